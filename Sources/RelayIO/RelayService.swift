import Logging
import MeshCrypto
import MeshWire
import NIOCore
import NIOHTTP1
import Relay
import Synchronization
import MeshBase

/// The relay server driver: one `RelayServerCore` shared by every connection, guarded by a mutex
/// (critical sections are a few dictionary operations; no I/O happens under the lock). Each
/// connection drains its own queue on its own event loop, only while its channel is writable,
/// so a slow reader never holds up anyone else: its queue fills and the core drops.
///
/// Ways to serve it:
/// - `RelayServer.start(host:port:service:group:)`: a standalone HTTP/1.1 server.
/// - `configureHTTPServerPipeline(on:)` in a `childChannelInitializer`: the same, on your bootstrap.
/// - `upgrader()` and `webSocketUpgrader()`: `HTTPServerProtocolUpgrader`s for your own HTTP
///   pipeline (`Upgrade: mesh-relay`, and the WebSocket variant `Upgrade: websocket`).
/// - `addRelayHandler(to:)`: a channel whose HTTP upgrade you already answered (101 sent);
///   from here on its bytes are the frame stream.
public final class RelayService: Sendable {
    struct State: ~Copyable {
        var core: RelayServerCore
        var handlers: [RelayConnectionID: RelayServerConnectionHandler] = [:]
        var ticker: RepeatedTask?
        var stopped = false
    }

    public static let upgradeProtocol = "mesh-relay"
    public static let path = "/relay"

    let state: Mutex<State>
    public let serverKey: PublicKey
    public let config: RelayServerConfig
    let logger: Logger

    /// - Parameter authorize: is this node key a registered, unexpired node of the network?
    ///   Called on the connection's event loop, under the relay's lock: keep it quick and
    ///   non-blocking (an in-memory lookup).
    public init(privateKey: PrivateKey, config: RelayServerConfig = RelayServerConfig(),
                logger: Logger = Logger(label: "mesh.relay"), authorize: @escaping RelayServerCore.Authorizer) {
        let core = RelayServerCore(privateKey: privateKey, config: config, authorize: authorize)
        self.serverKey = core.serverKey
        self.config = config
        self.logger = logger
        self.state = Mutex(State(core: core))
    }

    // MARK: - Public controls

    /// Runs the core's timers (keepalives, handshake timeouts, re-authorization) on `loop`.
    public func startTimers(on loop: EventLoop, interval: TimeAmount = .seconds(1)) {
        let task = loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in
            perform(state.withLock { s in resolve(s.core.tick(now: RelaySystem.now()), &s) })
        }
        let old = state.withLock { s in
            let o = s.ticker
            s.ticker = task
            return o
        }
        old?.cancel()
    }

    /// Stops the timers and closes every connection.
    public func shutdown() {
        let (task, work) = state.withLock { s in
            s.stopped = true
            let t = s.ticker
            s.ticker = nil
            return (t, resolve(s.core.shutdown(now: RelaySystem.now()), &s))
        }
        task?.cancel()
        perform(work)
    }

    /// The node was removed or expired: its connection is forgotten at once (frames still in
    /// flight from it are ignored), its socket is closed before this returns, and it cannot
    /// reconnect while revoked.
    public func revoke(_ nodeKey: PublicKey) async {
        let work = state.withLock { s in resolve(s.core.revoke(nodeKey, now: RelaySystem.now()), &s) }
        let closes = perform(work)
        for f in closes { try? await f.get() }
    }

    /// `revoke` without waiting for the socket to close (the core forgets the client at once).
    public func revokeNow(_ nodeKey: PublicKey) {
        perform(state.withLock { s in resolve(s.core.revoke(nodeKey, now: RelaySystem.now()), &s) })
    }

    /// Lifts a revocation (the node key registered again).
    public func reinstate(_ nodeKey: PublicKey) {
        state.withLock { $0.core.reinstate(nodeKey) }
    }

    public var stats: RelayServerStats { state.withLock { $0.core.stats } }
    public func clientStats(for nodeKey: PublicKey) -> RelayClientStats? { state.withLock { $0.core.clientStats(for: nodeKey) } }
    public var connectedNodeKeys: [PublicKey] { state.withLock { $0.core.connectedNodeKeys } }
    public func isConnected(_ nodeKey: PublicKey) -> Bool { state.withLock { $0.core.connection(for: nodeKey) != nil } }

    // MARK: - Pipeline integration

    /// The HTTP upgrader for `GET /relay` with `Upgrade: mesh-relay`.
    public func upgrader() -> RelayHTTPUpgrader { RelayHTTPUpgrader(service: self) }

    /// Makes `channel` an HTTP/1.1 server that answers `GET /relay` + `Upgrade: mesh-relay` (or
    /// `Upgrade: websocket`) with 101 and then speaks the relay protocol; any other request gets
    /// 404 (426 for a plain `GET /relay`) and the connection closes.
    public func configureHTTPServerPipeline(on channel: Channel) -> EventLoopFuture<Void> {
        let body: @Sendable () throws -> Void = { [self] in
            let fallback = RelayHTTPFallbackHandler()
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                withServerUpgrade: (upgraders: [upgrader(), webSocketUpgrader()], completionHandler: { _ in }))
            try channel.pipeline.syncOperations.addHandler(fallback, name: RelayHTTPFallbackHandler.name)
        }
        if channel.eventLoop.inEventLoop {
            return channel.eventLoop.makeCompletedFuture(Result(catching: body))
        }
        return channel.eventLoop.submit(body)
    }

    /// Adds the relay connection handler to a channel already past the upgrade. Must run on the
    /// channel's event loop.
    public func addRelayHandler(to channel: Channel) throws {
        try channel.pipeline.syncOperations.addHandler(RelayServerConnectionHandler(service: self))
    }

    // MARK: - Core calls from connection handlers

    struct Work {
        var wakes: [RelayServerConnectionHandler] = []
        var closes: [(RelayServerConnectionHandler, RelayCloseReason)] = []
    }

    /// Turns actions into the handlers they concern; `.close` also forgets the handler.
    func resolve(_ actions: [RelayServerAction], _ s: inout State) -> Work {
        var w = Work()
        for a in actions {
            switch a {
            case .wake(let id):
                if let h = s.handlers[id] { w.wakes.append(h) }
            case .close(let id, let reason):
                if let h = s.handlers.removeValue(forKey: id) { w.closes.append((h, reason)) }
            }
        }
        return w
    }

    @discardableResult
    func perform(_ w: Work) -> [EventLoopFuture<Void>] {
        for h in w.wakes { h.wake() }
        var futures: [EventLoopFuture<Void>] = []
        for (h, reason) in w.closes {
            logger.debug("relay: closing \(h.idDescription): \(reason)")
            futures.append(h.close())
        }
        return futures
    }

    func accept(_ handler: RelayServerConnectionHandler) -> RelayConnectionID? {
        let (id, work): (RelayConnectionID?, Work) = state.withLock { s in
            if s.stopped { return (nil, Work()) }
            let (id, actions) = s.core.accept(now: RelaySystem.now())
            s.handlers[id] = handler
            return (id, resolve(actions, &s))
        }
        perform(work)
        return id
    }

    func receive(_ frames: [RelayFrame], from id: RelayConnectionID) {
        let now = RelaySystem.now(), unix = RelaySystem.unixTime()
        var entropy = RelaySystemEntropy()
        let work = state.withLock { s in
            var actions: [RelayServerAction] = []
            for f in frames {
                actions += s.core.receive(f, from: id, now: now, unixTime: unix, entropy: &entropy)
            }
            return resolve(actions, &s)
        }
        perform(work)
    }

    func malformed(_ id: RelayConnectionID) {
        perform(state.withLock { s in resolve(s.core.malformedStream(id, now: RelaySystem.now()), &s) })
    }

    func closed(_ id: RelayConnectionID) {
        let work = state.withLock { s in
            s.handlers[id] = nil
            return resolve(s.core.connectionClosed(id, now: RelaySystem.now()), &s)
        }
        perform(work)
    }

    func dequeue(_ id: RelayConnectionID) -> [RelayFrame] {
        state.withLock { $0.core.dequeue(id, maxFrames: 256, maxBytes: 128 * 1024) }
    }
}

/// One upgraded relay connection on the server: decodes frames into the shared core and writes
/// the connection's queued frames while the channel is writable.
///
/// Sendable by hand: `wake()` is called from any thread (the core queued frames for this
/// connection) and only hops onto the channel's event loop; every mutable field is
/// loop-confined, and `channel` is set once in `handlerAdded` before anyone can wake it.
final class RelayServerConnectionHandler: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let service: RelayService
    // Loop-confined.
    private var context: ChannelHandlerContext?
    private var channel: Channel?
    private var id: RelayConnectionID?
    private var decoder = RelayFrameDecoder()
    private var failed = false

    init(service: RelayService) { self.service = service }

    var idDescription: String { id.map { "\($0)" } ?? "unregistered connection" }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.channel = context.channel
        if context.channel.isActive { register() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        unregister()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        register()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        unregister()
        context.fireChannelInactive()
    }

    private func register() {
        guard id == nil, !failed else { return }
        id = service.accept(self)
        if id == nil { context?.close(promise: nil) }
    }

    private func unregister() {
        if let id { service.closed(id) }
        id = nil
        failed = true
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let id, !failed else { return }
        let buffer = unwrapInboundIn(data)
        decoder.append(buffer.readableBytesView)
        var frames: [RelayFrame] = []
        do {
            while let f = try decoder.next() { frames.append(f) }
        } catch {
            failed = true
            if !frames.isEmpty { service.receive(frames, from: id) }
            service.malformed(id)
            return
        }
        if !frames.isEmpty { service.receive(frames, from: id) }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { drain() }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    /// Called from any thread: frames are queued for this connection.
    func wake() {
        guard let loop = channelLoop else { return }
        loop.execute { self.drain() }
    }

    private var channelLoop: EventLoop? { channelForClose?.eventLoop }
    private var channelForClose: Channel? {
        // `channel` is set once in handlerAdded (before the handler is registered with the
        // service) and never changes afterwards, so reading it from another thread is safe.
        channel
    }

    /// Writes queued frames while the channel takes them.
    private func drain() {
        guard let context, let id else { return }
        var wrote = false
        while context.channel.isWritable {
            let frames = service.dequeue(id)
            if frames.isEmpty { break }
            var buf = context.channel.allocator.buffer(capacity: frames.count * 256)
            for f in frames { buf.writeBytes(f.encoded) }
            context.write(wrapOutboundOut(buf), promise: nil)
            wrote = true
        }
        if wrote { context.flush() }
    }

    func close() -> EventLoopFuture<Void> {
        guard let ch = channelForClose else {
            preconditionFailure("relay handler closed before it was added")
        }
        return ch.close().flatMapErrorThrowing { error in
            if let e = error as? ChannelError, e == .alreadyClosed { return }
            throw error
        }
    }
}

/// `GET /relay` with `Upgrade: mesh-relay` → 101, then the relay frame stream.
public struct RelayHTTPUpgrader: HTTPServerProtocolUpgrader, Sendable {
    public let supportedProtocol = RelayService.upgradeProtocol
    public let requiredUpgradeHeaders: [String] = []
    let service: RelayService

    public func buildUpgradeResponse(channel: Channel, upgradeRequest: HTTPRequestHead,
                                     initialResponseHeaders: HTTPHeaders) -> EventLoopFuture<HTTPHeaders> {
        let path = upgradeRequest.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        guard upgradeRequest.method == .GET, path == RelayService.path else {
            return channel.eventLoop.makeFailedFuture(RelayHTTPError.notRelayRequest)
        }
        return channel.eventLoop.makeSucceededFuture(initialResponseHeaders)
    }

    public func upgrade(context: ChannelHandlerContext, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<Void> {
        let pipeline = context.pipeline.syncOperations
        if let fallback = try? pipeline.handler(type: RelayHTTPFallbackHandler.self) {
            pipeline.removeHandler(fallback, promise: nil)
        }
        // Right behind the upgrade handler (which leaves next): when the port is shared, the other
        // server's handlers sit further down the pipeline and must never see relay bytes.
        return context.eventLoop.makeCompletedFuture {
            try pipeline.addHandler(RelayServerConnectionHandler(service: service), position: .after(context.handler))
        }
    }
}

public enum RelayHTTPError: Error, Sendable {
    case notRelayRequest
}

/// Answers every HTTP request that is not a relay upgrade, then closes.
final class RelayHTTPFallbackHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    static let name = "mesh-relay-http-fallback"

    private var head: HTTPRequestHead?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            let path = head?.uri.split(separator: "?", maxSplits: 1).first.map(String.init)
            let isRelay = path == RelayService.path
            let status: HTTPResponseStatus = isRelay ? .upgradeRequired : .notFound
            let text = isRelay ? "use Upgrade: \(RelayService.upgradeProtocol)\n" : "not found\n"
            var headers = HTTPHeaders([("content-type", "text/plain"), ("content-length", "\(text.utf8.count)"),
                                       ("connection", "close")])
            if isRelay { headers.add(name: "upgrade", value: "\(RelayService.upgradeProtocol), websocket") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            var buf = context.channel.allocator.buffer(capacity: text.utf8.count)
            buf.writeString(text)
            context.write(wrapOutboundOut(.body(.byteBuffer(buf))), promise: nil)
            let ch = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in ch.close(promise: nil) }
            head = nil
        }
    }
}
