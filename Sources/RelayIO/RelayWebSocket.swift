import NIOCore
import NIOHTTP1
import NIOWebSocket

// The WebSocket variant of the relay transport (DESIGN.md section 6), for proxies that only pass
// WebSocket: `GET /relay` with `Upgrade: websocket` (RFC 6455, subprotocol "mesh-relay"
// optional), then the same relay frame stream carried in binary WebSocket messages. Frame and
// message boundaries mean nothing: the binary payloads are concatenated into one byte stream.

extension RelayService {
    /// The WebSocket subprotocol a client may ask for (answered when asked, never required).
    public static let webSocketSubprotocol = "mesh-relay"

    /// Largest WebSocket frame accepted from the peer. The server writes up to 128 KiB of queued
    /// relay frames per WebSocket frame, so clients use the same bound.
    static let webSocketMaxFrameSize = 1 << 20

    /// The HTTP upgrader for `GET /relay` with `Upgrade: websocket`.
    public func webSocketUpgrader() -> RelayWebSocketUpgrader { RelayWebSocketUpgrader(service: self) }
}

/// `GET /relay` with `Upgrade: websocket` → 101 (the handshake is NIO's
/// `NIOWebSocketServerUpgrader`), then binary WebSocket frames carrying the relay frame stream,
/// served by the same relay connection handler as the `mesh-relay` upgrade.
public struct RelayWebSocketUpgrader: HTTPServerProtocolUpgrader, Sendable {
    public var supportedProtocol: String { handshake.supportedProtocol }
    public var requiredUpgradeHeaders: [String] { handshake.requiredUpgradeHeaders }
    let service: RelayService
    /// Validates the request (version, key) and builds the 101 headers. Its own `upgrade` is not
    /// used: it appends the WebSocket codec at the END of the pipeline, which is wrong when the
    /// port is shared (another server's handlers sit further down).
    let handshake: NIOWebSocketServerUpgrader

    init(service: RelayService) {
        self.service = service
        self.handshake = NIOWebSocketServerUpgrader(
            maxFrameSize: RelayService.webSocketMaxFrameSize, automaticErrorHandling: false,
            shouldUpgrade: { channel, head in
                let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
                guard head.method == .GET, path == RelayService.path else {
                    return channel.eventLoop.makeSucceededFuture(nil)
                }
                var headers = HTTPHeaders()
                let offered = head.headers[canonicalForm: "sec-websocket-protocol"].map { $0.lowercased() }
                if offered.contains(RelayService.webSocketSubprotocol) {
                    headers.add(name: "Sec-WebSocket-Protocol", value: RelayService.webSocketSubprotocol)
                }
                return channel.eventLoop.makeSucceededFuture(headers)
            },
            upgradePipelineHandler: { channel, _ in channel.eventLoop.makeSucceededVoidFuture() })
    }

    public func buildUpgradeResponse(channel: Channel, upgradeRequest: HTTPRequestHead,
                                     initialResponseHeaders: HTTPHeaders) -> EventLoopFuture<HTTPHeaders> {
        handshake.buildUpgradeResponse(channel: channel, upgradeRequest: upgradeRequest,
                                       initialResponseHeaders: initialResponseHeaders)
    }

    public func upgrade(context: ChannelHandlerContext, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<Void> {
        let pipeline = context.pipeline.syncOperations
        if let fallback = try? pipeline.handler(type: RelayHTTPFallbackHandler.self) {
            pipeline.removeHandler(fallback, promise: nil)
        }
        let service = self.service
        return context.eventLoop.makeCompletedFuture {
            // Right behind the upgrade handler, in stream order: codec, frame adapter, relay handler.
            try pipeline.addHandlers([
                WebSocketFrameEncoder(),
                ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: RelayService.webSocketMaxFrameSize)),
                RelayWebSocketFrameHandler(isClient: false),
                RelayServerConnectionHandler(service: service),
            ], position: .after(context.handler))
        }
    }
}

/// Between the WebSocket codec and a relay connection handler (server or client): binary (and
/// their continuation) frames in → ByteBuffers; ByteBuffers out → binary frames (masked by the
/// client, as RFC 6455 requires). Answers pings, completes the close handshake, and closes the
/// connection with 1003 on a text frame, 1002 on protocol errors (including unmasked client
/// frames at the server), 1009 on an oversized frame.
final class RelayWebSocketFrameHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = WebSocketFrame

    let isClient: Bool
    private var sentClose = false
    /// Inside a fragmented binary message (continuation frames belong to it).
    private var inBinaryMessage = false

    init(isClient: Bool) { self.isClient = isClient }

    private var maskKey: WebSocketMaskingKey? { isClient ? .random() : nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard !sentClose else {
            // Closing: wait for the peer's close (or EOF); only its close frame matters now.
            if frame.opcode == .connectionClose { context.close(promise: nil) }
            return
        }
        if !isClient && frame.maskKey == nil {
            return closeWith(.protocolError, context: context)
        }
        switch frame.opcode {
        case .binary, .continuation:
            if frame.opcode == .continuation && !inBinaryMessage { return closeWith(.protocolError, context: context) }
            inBinaryMessage = !frame.fin
            let payload = frame.unmaskedData
            if payload.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(payload)) }
        case .text:
            closeWith(.unacceptableData, context: context)
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: maskKey, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .pong:
            break
        case .connectionClose:
            // Echo the peer's status code, then close.
            var data = frame.unmaskedData
            let code = data.readableBytes >= 2 ? data.readWebSocketErrorCode() : nil
            closeWith(code ?? .normalClosure, context: context)
        default:
            closeWith(.protocolError, context: context)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !sentClose else {
            promise?.fail(ChannelError.outputClosed)
            return
        }
        let frame = WebSocketFrame(fin: true, opcode: .binary, maskKey: maskKey, data: unwrapOutboundIn(data))
        context.write(wrapOutboundOut(frame), promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let e = error as? NIOWebSocketError {
            // The codec refused the peer's bytes: tell it why, then close.
            let code: WebSocketErrorCode = e == .invalidFrameLength ? .messageTooLarge : .protocolError
            closeWith(code, context: context)
        }
        context.fireErrorCaught(error)
    }

    /// Sends a close frame with `code` (once) and closes the connection once it is written.
    private func closeWith(_ code: WebSocketErrorCode, context: ChannelHandlerContext) {
        guard !sentClose else { return }
        sentClose = true
        var data = context.channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: code)
        let frame = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: maskKey, data: data)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(frame)).whenComplete { _ in channel.close(promise: nil) }
    }
}
