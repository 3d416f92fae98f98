import MeshWire
import NIOCore

/// Opens a `CONNECT` tunnel through an HTTPS proxy as a connection's first handler, before TLS:
/// the handlers behind it see `channelActive` only once the tunnel is open, so TLS and
/// everything above it run unchanged inside it; their writes wait here until then. A refusal,
/// a malformed answer or no answer within `timeout` closes the connection with an error that
/// names the proxy's status line (never the credentials).
public final class HTTPConnectTunnelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    public struct TunnelError: Error, CustomStringConvertible {
        public let description: String
    }

    enum Phase { case waiting, established, failed }

    private let request: [UInt8]
    private let proxyName: String
    private let timeout: TimeAmount
    private var phase = Phase.waiting
    private var received: [UInt8] = []
    private var heldWrites: [(ByteBuffer, EventLoopPromise<Void>?)] = []
    private var heldFlush = false
    private var deadline: Scheduled<Void>?

    public init(proxy: HTTPSProxy, targetHost: String, targetPort: Int, timeout: TimeAmount = .seconds(10)) {
        request = proxy.connectRequest(host: targetHost, port: targetPort)
        proxyName = proxy.description
        self.timeout = timeout
    }

    public func channelActive(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: request.count)
        buffer.writeBytes(request)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        let why = "no answer to CONNECT from proxy \(proxyName) within \(timeout.nanoseconds / 1_000_000_000) s"
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in fail(context, why) }
        // Not passed on: the handlers behind see the connection become active when the tunnel is.
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard phase == .waiting else { return context.fireChannelRead(data) }
        let buffer = unwrapInboundIn(data)
        received.append(contentsOf: buffer.readableBytesView)
        switch HTTPConnectAnswer.parse(received) {
        case .incomplete:
            return
        case .malformed:
            fail(context, "proxy \(proxyName) gave no HTTP answer to CONNECT")
        case .refused(let status):
            fail(context, "proxy \(proxyName) refused CONNECT: \(status)")
        case .established(let headerLength):
            phase = .established
            deadline?.cancel()
            let rest = received.count > headerLength ? Array(received[headerLength...]) : []
            received = []
            context.fireChannelActive()
            for (write, promise) in heldWrites { context.write(wrapOutboundOut(write), promise: promise) }
            heldWrites = []
            if heldFlush { context.flush() }
            if !rest.isEmpty {
                var tail = context.channel.allocator.buffer(capacity: rest.count)
                tail.writeBytes(rest)
                context.fireChannelRead(wrapInboundOut(tail))
            }
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch phase {
        case .established: context.write(data, promise: promise)
        case .waiting: heldWrites.append((unwrapOutboundIn(data), promise))
        case .failed: promise?.fail(ChannelError.ioOnClosedChannel)
        }
    }

    public func flush(context: ChannelHandlerContext) {
        if phase == .waiting { heldFlush = true } else { context.flush() }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        if phase == .waiting { fail(context, "proxy \(proxyName) closed the connection before the tunnel opened") }
        context.fireChannelInactive()
    }

    private func fail(_ context: ChannelHandlerContext, _ why: String) {
        guard phase == .waiting else { return }
        phase = .failed
        deadline?.cancel()
        for (_, promise) in heldWrites { promise?.fail(TunnelError(description: why)) }
        heldWrites = []
        context.fireErrorCaught(TunnelError(description: why))
        context.close(promise: nil)
    }
}
