import MeshCrypto
import MeshTestSupport
import MeshWire
import NIOCore
import NIOHTTP1
import NIOPosix
import Relay
import RelayIO
import Synchronization
import Testing
import WireGuard

/// A WebSocket client driven by hand over a blocking socket: masked frames out, frames in.
final class RawWebSocket {
    let raw: RawRelaySocket
    var pending: [UInt8] = []
    var decoder = RelayFrameDecoder()
    private(set) var responseHead = ""

    struct Frame: Equatable { var opcode: UInt8; var fin: Bool; var payload: [UInt8] }

    init(port: Int) throws { raw = try RawRelaySocket(port: port) }

    /// The RFC 6455 handshake (the RFC's sample key); throws unless the answer is 101.
    func upgrade(path: String = "/relay", subprotocol: String? = "mesh-relay") throws {
        var req = "GET \(path) HTTP/1.1\r\nHost: relay\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        if let subprotocol { req += "Sec-WebSocket-Protocol: \(subprotocol)\r\n" }
        raw.write(req + "\r\n")
        responseHead = try raw.readResponseHead()
        pending = raw.afterHead
        guard responseHead.hasPrefix("HTTP/1.1 101") else { throw RawRelaySocket.RawError.badResponse(responseHead) }
    }

    func send(opcode: UInt8, _ payload: [UInt8], fin: Bool = true, masked: Bool = true) {
        var out: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        let maskBit: UInt8 = masked ? 0x80 : 0
        if payload.count < 126 {
            out.append(maskBit | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            out.append(maskBit | 126)
            out += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            out.append(maskBit | 127)
            out += (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xFF) }
        }
        if masked {
            let key: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
            out += key
            out += payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
        } else {
            out += payload
        }
        raw.write(out)
    }

    private func need(_ n: Int) throws {
        while pending.count < n {
            let chunk = raw.read()
            if chunk.isEmpty { throw RawRelaySocket.RawError.closed }
            pending += chunk
        }
    }

    /// The next frame from the server (which never masks).
    func nextFrame() throws -> Frame {
        try need(2)
        let fin = pending[0] & 0x80 != 0, opcode = pending[0] & 0x0F
        #expect(pending[1] & 0x80 == 0, "server frames are not masked")
        var len = Int(pending[1] & 0x7F), header = 2
        if len == 126 {
            try need(4)
            len = Int(pending[2]) << 8 | Int(pending[3])
            header = 4
        } else if len == 127 {
            try need(10)
            len = pending[2..<10].reduce(0) { $0 << 8 | Int($1) }
            header = 10
        }
        try need(header + len)
        let payload = Array(pending[header..<(header + len)])
        pending.removeFirst(header + len)
        return Frame(opcode: opcode, fin: fin, payload: payload)
    }

    /// The next relay frame carried in binary frames.
    func nextRelayFrame() throws -> RelayFrame {
        while true {
            if let f = try decoder.next() { return f }
            let frame = try nextFrame()
            guard frame.opcode == 0x2 || frame.opcode == 0x0 else { throw RawRelaySocket.RawError.badResponse("opcode \(frame.opcode)") }
            decoder.append(frame.payload)
        }
    }

    func sendRelay(_ f: RelayFrame) { send(opcode: 0x2, f.encoded) }
}

@Suite(.serialized) struct RelayWebSocketTests {
    @Test func aWebSocketUpgradeThatIsRefusedIsRetried() async throws {
        let lab = try await RelayLab()
        var conf = RelayClient.Configuration(host: "127.0.0.1", port: lab.server.port)
        conf.transport = .webSocket
        conf.path = "/not-the-relay"
        conf.backoff = Backoff(initial: .milliseconds(50), maximum: .milliseconds(400))
        let c = RelayClient(nodeKey: lab.nodes[0], configuration: conf, group: lab.group, onReceive: { _, _ in })
        lab.clients.withLock { $0.append(c) }
        c.start()
        #expect(await eventually { c.stats.lastError?.contains("refused the upgrade") == true })
        #expect(await eventually { if case .waiting = c.state { return true } else { return false } })
        #expect(!c.isConnected)
        #expect(lab.service.stats.connectionsAccepted == 0)
        await lab.shutdown()
    }

    @Test func aWebSocketClientAndAnUpgradeClientTalkThroughOneServer() async throws {
        let lab = try await RelayLab()
        let inWS = Inbox(), inUp = Inbox()
        let ws = lab.client(0, inbox: inWS, transport: .webSocket)
        let up = lab.client(1, inbox: inUp, transport: .upgrade)
        #expect(await ws.waitUntilConnected())
        #expect(await up.waitUntilConnected())
        #expect(ws.send(to: lab.nodes[1].publicKey, packet: [1, 2, 3]))
        #expect(up.send(to: lab.nodes[0].publicKey, packet: [4, 5, 6]))
        #expect(await eventually { inWS.received == 1 && inUp.received == 1 })
        #expect(inUp.packets.withLock { $0.map(\.0) } == [lab.nodes[0].publicKey])
        #expect(inUp.packets.withLock { $0.map(\.1) } == [[1, 2, 3]])
        #expect(inWS.packets.withLock { $0.map(\.0) } == [lab.nodes[1].publicKey])
        #expect(inWS.packets.withLock { $0.map(\.1) } == [[4, 5, 6]])
        #expect(lab.service.stats.packetsForwarded == 2)
        // Revocation closes a WebSocket connection as well; reinstated, it comes back.
        await lab.service.revoke(lab.nodes[0].publicKey)
        #expect(await eventually(within: .seconds(5)) { !ws.isConnected })
        lab.service.reinstate(lab.nodes[0].publicKey)
        #expect(await eventually { ws.isConnected && ws.stats.connects == 2 })
        await lab.shutdown()
    }

    @Test func aTextFrameGetsTheConnectionClosed() async throws {
        let lab = try await RelayLab()
        let raw = try RawWebSocket(port: lab.server.port)
        try raw.upgrade(subprotocol: nil)
        #expect(!raw.responseHead.lowercased().contains("sec-websocket-protocol"))
        guard case .serverKey = try raw.nextRelayFrame() else { Issue.record("no ServerKey"); return }
        // Ping is answered with a pong carrying the same data.
        raw.send(opcode: 0x9, [1, 2, 3, 4])
        #expect(try raw.nextFrame() == .init(opcode: 0xA, fin: true, payload: [1, 2, 3, 4]))
        #expect(lab.service.stats.currentConnections == 1)
        raw.send(opcode: 0x1, Array("hello".utf8))
        let close = try raw.nextFrame()
        #expect(close.opcode == 0x8)
        #expect(close.payload.prefix(2) == [0x03, 0xEB], "status 1003")
        #expect(raw.raw.sawEOF())
        #expect(await eventually { lab.service.stats.currentConnections == 0 })
        await lab.shutdown()
    }

    @Test func closeFramesAndProtocolErrors() async throws {
        let lab = try await RelayLab()
        // A close frame is answered with a close frame (same status), then the connection ends.
        let a = try RawWebSocket(port: lab.server.port)
        try a.upgrade()
        _ = try a.nextRelayFrame()
        a.send(opcode: 0x8, [0x03, 0xE8])
        #expect(try a.nextFrame() == .init(opcode: 0x8, fin: true, payload: [0x03, 0xE8]))
        #expect(a.raw.sawEOF())
        // An unmasked client frame is a protocol error (1002).
        let b = try RawWebSocket(port: lab.server.port)
        try b.upgrade()
        _ = try b.nextRelayFrame()
        b.send(opcode: 0x2, [1, 2, 3], masked: false)
        let close = try b.nextFrame()
        #expect(close.opcode == 0x8)
        #expect(close.payload.prefix(2) == [0x03, 0xEA], "status 1002")
        #expect(b.raw.sawEOF())
        // A WebSocket upgrade elsewhere is not the relay's.
        let c = try RawWebSocket(port: lab.server.port)
        #expect(throws: (any Error).self) { try c.upgrade(path: "/other") }
        #expect(c.responseHead.hasPrefix("HTTP/1.1 404"))
        #expect(await eventually { lab.service.stats.currentConnections == 0 })
        await lab.shutdown()
    }
}

/// A relay behind something that passes only WebSocket upgrades (as many reverse proxies and
/// 443-only networks do): the plain `Upgrade: mesh-relay` gets an ordinary HTTP answer.
@Suite(.serialized) struct RelayTransportFallbackTests {
    final class WebSocketOnlyRelay {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let serverKey = ioKey(100)
        let nodes = [ioKey(0), ioKey(1)]
        let service: RelayService
        let listener: Channel
        var port: Int { listener.localAddress!.port! }

        init() async throws {
            let registry = IORegistry(nodes)
            let service = RelayService(privateKey: serverKey, authorize: { registry.contains($0) })
            self.service = service
            listener = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                            withServerUpgrade: (upgraders: [service.webSocketUpgrader()], completionHandler: { _ in }))
                        try channel.pipeline.syncOperations.addHandler(OtherServerHandler())
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
        }

        func client(_ n: Int, inbox: Inbox, fallBack: Bool = true) -> RelayClient {
            var conf = RelayClient.Configuration(host: "127.0.0.1", port: port, pinnedServerKey: serverKey.publicKey)
            conf.fallBackToOtherTransport = fallBack
            conf.backoff = Backoff(initial: .milliseconds(50), maximum: .milliseconds(200))
            return RelayClient(nodeKey: nodes[n], configuration: conf, group: group, onReceive: { inbox.add($0, $1) })
        }

        func shutdown() async throws {
            try await listener.close()
            service.shutdown()
            try await group.shutdownGracefully()
        }
    }

    @Test func aRefusedUpgradeFallsBackToWebSocketAndStaysThere() async throws {
        let relay = try await WebSocketOnlyRelay()
        let inbox = Inbox()
        let a = relay.client(0, inbox: inbox), b = relay.client(1, inbox: inbox)
        #expect(a.transport == .upgrade)
        a.start()
        b.start()
        #expect(await a.waitUntilConnected(timeout: .seconds(5)))
        #expect(await b.waitUntilConnected(timeout: .seconds(5)))
        #expect(a.transport == .webSocket && b.transport == .webSocket)
        #expect(a.stats.lastError?.contains("refused the upgrade") == true)
        // One refusal, then the working transport: no backoff was spent on the switch.
        #expect(a.stats.connects == 1)
        a.send(to: relay.nodes[1].publicKey, packet: [7, 7])
        #expect(await eventually { inbox.received == 1 })
        await a.close()
        await b.close()
        try await relay.shutdown()
    }

    @Test func withoutFallbackARefusedUpgradeStaysRefused() async throws {
        let relay = try await WebSocketOnlyRelay()
        let c = relay.client(0, inbox: Inbox(), fallBack: false)
        c.start()
        #expect(await eventually { c.stats.lastError?.contains("refused the upgrade") == true })
        try await Task.sleep(for: .milliseconds(300))
        #expect(!c.isConnected && c.transport == .upgrade)
        await c.close()
        try await relay.shutdown()
    }
}
