import MeshHTTP
import MeshWire
import NIOCore
import NIOEmbedded
import Testing

/// What the handlers behind the tunnel see.
final class BehindTheTunnel: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var active = false
    var read: [UInt8] = []
    var errors: [String] = []
    func channelActive(context: ChannelHandlerContext) { active = true }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        read += unwrapInboundIn(data).readableBytesView
    }
    func errorCaught(context: ChannelHandlerContext, error: Error) { errors.append("\(error)") }
}

@Suite struct HTTPConnectTunnelHandlerTests {
    func setUp(_ proxyURL: String = "http://bob:hunter2@proxy.lab.test:3128") throws -> (EmbeddedChannel, BehindTheTunnel) {
        let behind = BehindTheTunnel()
        let channel = EmbeddedChannel()
        let proxy = try HTTPSProxy(url: proxyURL)
        try channel.pipeline.syncOperations.addHandler(
            HTTPConnectTunnelHandler(proxy: proxy, targetHost: "coord.lab.test", targetPort: 443))
        try channel.pipeline.syncOperations.addHandler(behind)
        return (channel, behind)
    }

    func outbound(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let b = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: b) }
        return text
    }

    @Test func theTunnelOpensThenEverythingPassesThrough() throws {
        let (channel, behind) = try setUp()
        try channel.connect(to: SocketAddress(ipAddress: "198.51.100.7", port: 3128)).wait()
        #expect(try outbound(channel).hasPrefix("CONNECT coord.lab.test:443 HTTP/1.1\r\n"))
        #expect(!behind.active, "the handlers behind wait for the tunnel")
        // What they write meanwhile (a TLS ClientHello) waits too.
        channel.writeAndFlush(ByteBuffer(string: "hello"), promise: nil)
        #expect(try outbound(channel).isEmpty)
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 200 Conn"))
        #expect(!behind.active)
        try channel.writeInbound(ByteBuffer(string: "ection established\r\n\r\nserver-first"))
        #expect(behind.active)
        #expect(behind.read == Array("server-first".utf8), "bytes after the answer belong to the tunnel")
        #expect(try outbound(channel) == "hello")
        channel.writeAndFlush(ByteBuffer(string: "more"), promise: nil)
        try channel.writeInbound(ByteBuffer(string: "!"))
        #expect(try outbound(channel) == "more")
        #expect(behind.read == Array("server-first!".utf8))
        #expect(throws: (any Error).self) { try channel.pipeline.syncOperations.handler(type: HTTPConnectTunnelHandler.self) }
        _ = try? channel.finish()
    }

    @Test func aRefusalClosesWithTheStatusLineAndNoCredentials() throws {
        let (channel, behind) = try setUp()
        try channel.connect(to: SocketAddress(ipAddress: "198.51.100.7", port: 3128)).wait()
        let request = try outbound(channel)
        #expect(request.contains("Proxy-Authorization: Basic "))
        _ = try? channel.writeInbound(ByteBuffer(string: "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"))
        #expect(!behind.active)
        #expect(behind.errors.count == 1)
        let error = try #require(behind.errors.first)
        #expect(error.contains("407") && error.contains("proxy.lab.test:3128"))
        #expect(!error.contains("hunter2") && !error.contains("bob"))
        #expect(!channel.isActive)
    }

    @Test func garbageFromTheProxyIsAnError() throws {
        let (channel, behind) = try setUp("proxy.lab.test:3128")
        try channel.connect(to: SocketAddress(ipAddress: "198.51.100.7", port: 3128)).wait()
        _ = try? channel.writeInbound(ByteBuffer(string: "SSH-2.0-x\r\n\r\n"))
        #expect(behind.errors.first?.contains("no HTTP answer") == true)
        #expect(!behind.active && !channel.isActive)
    }
}
