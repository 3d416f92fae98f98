import Logging
import MeshCrypto
import MeshWire
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Relay
import Synchronization
import MeshBase

/// The WebSocket transport's upgrade: sends `GET /relay` through NIO's HTTP client pipeline with
/// `NIOWebSocketClientUpgrader` (which adds `Upgrade: websocket`, the key, and checks the
/// accept), reports a refusal or a failure before the upgrade to the connection handler, and on
/// success gives way to `RelayWebSocketFrameHandler` + the `RelayClientConnectionHandler`.
final class RelayClientWebSocketStarter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    let handler: RelayClientConnectionHandler
    let configuration: RelayClient.Configuration
    private var reported = false

    init(handler: RelayClientConnectionHandler, configuration: RelayClient.Configuration) {
        self.handler = handler
        self.configuration = configuration
    }

    /// Sets up a fresh client channel for the WebSocket transport (on its event loop).
    static func configure(_ channel: Channel, handler: RelayClientConnectionHandler,
                          configuration: RelayClient.Configuration) throws {
        let starter = RelayClientWebSocketStarter(handler: handler, configuration: configuration)
        let upgrader = NIOWebSocketClientUpgrader(
            maxFrameSize: RelayService.webSocketMaxFrameSize, automaticErrorHandling: false,
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    let ops = channel.pipeline.syncOperations
                    // The codec was appended behind the starter: the starter goes, the relay
                    // handlers follow the codec.
                    ops.removeHandler(try ops.handler(type: RelayClientWebSocketStarter.self), promise: nil)
                    try ops.addHandler(RelayWebSocketFrameHandler(isClient: true))
                    try ops.addHandler(handler)
                }
            })
        let ops = channel.pipeline.syncOperations
        try ops.addHTTPClientHandlers(leftOverBytesStrategy: .forwardBytes,
                                      withClientUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
        try ops.addHandler(starter)
    }

    func channelActive(context: ChannelHandlerContext) {
        handler.begin(channel: context.channel)
        let c = configuration
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: c.hostHeader ?? "\(c.host):\(c.port)")
        headers.add(name: "Sec-WebSocket-Protocol", value: RelayService.webSocketSubprotocol)
        headers.add(name: "Content-Length", value: "0")
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: c.path, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Only a response that did not upgrade gets here.
        if case .head(let head) = unwrapInboundIn(data) {
            report("relay refused the upgrade: HTTP/\(head.version.major).\(head.version.minor) \(head.status.code) \(head.status.reasonPhrase)",
                   upgradeRefused: true)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        report("\(error)")
    }

    func channelInactive(context: ChannelHandlerContext) {
        report("connection closed during the upgrade")
        context.fireChannelInactive()
    }

    private func report(_ why: String, upgradeRefused: Bool = false) {
        guard !reported else { return }
        reported = true
        handler.fail(why, upgradeRefused: upgradeRefused)
    }
}
