import Logging
import MeshCrypto
import MeshWire
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Relay
import Synchronization
import WireGuard

/// A node's connection to one relay: TCP, the HTTP upgrade (`Upgrade: mesh-relay`, or the
/// WebSocket variant for proxies that only pass WebSocket), the `RelayClientCore` handshake,
/// then packets in and out; reconnects with `RelayBackoff` whenever the connection fails or
/// closes, until `close()`. Callbacks run on the client's event loop.
public final class RelayClient: Sendable {
    public struct Configuration: Sendable {
        /// How the relay frame stream is carried after `GET /relay`.
        public enum Transport: Sendable, Equatable {
            /// `Upgrade: mesh-relay`, then the frames as raw bytes.
            case upgrade
            /// `Upgrade: websocket` (RFC 6455), then the frames inside binary WebSocket messages.
            case webSocket
        }

        public var host: String
        public var port: Int
        public var path: String = RelayService.path
        /// The Host header; default "host:port".
        public var hostHeader: String?
        public var relay: RelayClientConfig
        public var transport: Transport = .upgrade
        public var backoff = RelayBackoff()
        public var tickInterval: TimeAmount = .seconds(1)
        public var connectTimeout: TimeAmount = .seconds(5)
        /// Outbound bytes buffered in the socket layer before `send` starts dropping.
        public var writeBufferHighWaterMark = 1 << 20

        public init(host: String, port: Int, pinnedServerKey: PublicKey? = nil) {
            self.host = host
            self.port = port
            self.relay = RelayClientConfig(pinnedServerKey: pinnedServerKey)
        }
    }

    public enum State: Equatable, Sendable {
        case idle
        case connecting
        case connected(serverKey: PublicKey)
        /// Waiting `retryIn` before the next attempt, after `lastError`.
        case waiting(retryIn: Duration, lastError: String)
        case closed
    }

    public struct Stats: Equatable, Sendable {
        public var packetsSent = 0
        public var packetsReceived = 0
        /// `send` calls dropped: not connected, packet too large, or the socket is backed up.
        public var packetsDropped = 0
        public var connects = 0
        public var disconnects = 0
        public var lastRTT: Duration?
        public var lastError: String?
    }

    struct Inner {
        var state: State = .idle
        var channel: Channel?
        var current: RelayClientConnectionHandler?
        var backoff: RelayBackoff
        var stats = Stats()
        var closed = false
        var ticker: RepeatedTask?
        var retry: Scheduled<Void>?
        var maxPacket = RelayFrame.maxPayload - 32
        /// SendPacket frames written by `send` and not yet handed to the channel: callers on the
        /// data plane's threads append here (one copy, no allocation while a buffer is open) and
        /// one task on the event loop writes the whole batch.
        var pending: ByteBuffer?
        var flushScheduled = false
    }

    public let nodeKey: PublicKey
    let privateKey: PrivateKey
    public let configuration: Configuration
    let loop: EventLoop
    let logger: Logger
    let inner: Mutex<Inner>
    let onPacket: @Sendable (PublicKey, UnsafeMutableRawBufferPointer) -> Void
    let onPeerGone: @Sendable (PublicKey, RelayFrame.PeerGoneReason) -> Void
    let onStateChange: @Sendable (State) -> Void

    /// - Parameter onPacket: each relayed packet, with its payload in the connection's receive
    ///   buffer (valid only during the call, mutable so it can be decrypted in place); called on
    ///   the client's event loop.
    public init(nodeKey: PrivateKey, configuration: Configuration, group: EventLoopGroup,
                logger: Logger = Logger(label: "mesh.relay.client"),
                onPacket: @escaping @Sendable (PublicKey, UnsafeMutableRawBufferPointer) -> Void,
                onPeerGone: @escaping @Sendable (PublicKey, RelayFrame.PeerGoneReason) -> Void = { _, _ in },
                onStateChange: @escaping @Sendable (State) -> Void = { _ in }) {
        self.privateKey = nodeKey
        self.nodeKey = nodeKey.publicKey
        self.configuration = configuration
        self.loop = group.next()
        self.logger = logger
        self.onPacket = onPacket
        self.onPeerGone = onPeerGone
        self.onStateChange = onStateChange
        self.inner = Mutex(Inner(backoff: configuration.backoff))
    }

    /// The same, with each packet copied into an array (tools and tests; not the data path).
    public convenience init(nodeKey: PrivateKey, configuration: Configuration, group: EventLoopGroup,
                            logger: Logger = Logger(label: "mesh.relay.client"),
                            onReceive: @escaping @Sendable (PublicKey, [UInt8]) -> Void,
                            onPeerGone: @escaping @Sendable (PublicKey, RelayFrame.PeerGoneReason) -> Void = { _, _ in },
                            onStateChange: @escaping @Sendable (State) -> Void = { _ in }) {
        self.init(nodeKey: nodeKey, configuration: configuration, group: group, logger: logger,
                  onPacket: { onReceive($0, Array($1)) }, onPeerGone: onPeerGone, onStateChange: onStateChange)
    }

    public var state: State { inner.withLock { $0.state } }
    public var isConnected: Bool { inner.withLock { $0.channel != nil } }
    public var stats: Stats { inner.withLock { $0.stats } }

    /// Starts connecting (and keeps reconnecting until `close()`).
    public func start() {
        loop.execute { [self] in
            let go = inner.withLock { s -> Bool in
                guard case .idle = s.state, !s.closed else { return false }
                s.ticker = loop.scheduleRepeatedTask(initialDelay: configuration.tickInterval,
                                                     delay: configuration.tickInterval) { [self] _ in
                    inner.withLock { $0.current }?.tick()
                }
                return true
            }
            if go { connect() }
        }
    }

    /// Sends `packet` to `destination` through the relay. False (and counted) when it was
    /// dropped: not connected, too large, or the connection is backed up.
    @discardableResult
    public func send(to destination: PublicKey, packet: [UInt8]) -> Bool {
        packet.withUnsafeBytes { send(to: destination, datagram: $0) }
    }

    /// The data path's send: the frame is written straight into the pending batch (the one
    /// copy of the datagram on its way out), and the first send of a batch schedules the write
    /// on the event loop (docs/architecture.md, "Relays").
    @discardableResult
    public func send(to destination: PublicKey, datagram: UnsafeRawBufferPointer) -> Bool {
        enum Outcome { case dropped, queued, queuedFirst(Channel) }
        let outcome = inner.withLock { s -> Outcome in
            guard let channel = s.channel, datagram.count <= s.maxPacket, channel.isWritable,
                  (s.pending?.readableBytes ?? 0) < configuration.writeBufferHighWaterMark else {
                s.stats.packetsDropped += 1
                return .dropped
            }
            let frameLength = RelayFrame.headerLength + 32 + datagram.count
            if s.pending == nil { s.pending = channel.allocator.buffer(capacity: max(frameLength, 16 << 10)) }
            s.pending!.writeInteger(RelayFrame.Code.sendPacket.rawValue)
            s.pending!.writeInteger(UInt32(32 + datagram.count))
            withUnsafeBytes(of: destination.bytes) { _ = s.pending!.writeBytes($0) }
            s.pending!.writeBytes(datagram)
            s.stats.packetsSent += 1
            guard !s.flushScheduled else { return .queued }
            s.flushScheduled = true
            return .queuedFirst(channel)
        }
        switch outcome {
        case .dropped: return false
        case .queued: return true
        case .queuedFirst(let channel):
            channel.eventLoop.execute { [self] in flushPending(channel) }
            return true
        }
    }

    private func flushPending(_ channel: Channel) {
        let batch = inner.withLock { s -> ByteBuffer? in
            s.flushScheduled = false
            defer { s.pending = nil }
            return s.channel === channel ? s.pending : nil
        }
        if let batch { channel.writeAndFlush(batch, promise: nil) }
    }

    /// Waits until the handshake has finished (true) or `timeout` passed (false).
    public func waitUntilConnected(timeout: Duration = .seconds(10)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if isConnected { return true }
            if inner.withLock({ $0.closed }) { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return isConnected
    }

    /// Closes the connection and stops reconnecting.
    public func close() async {
        let (channel, ticker, retry) = inner.withLock { s in
            s.closed = true
            s.state = .closed
            let c = s.current?.channel
            s.channel = nil
            s.current = nil
            return (c, s.ticker, s.retry)
        }
        ticker?.cancel()
        retry?.cancel()
        if let channel { try? await channel.close() }
        onStateChange(.closed)
    }

    // MARK: - Connection management (on `loop`)

    private func connect() {
        let webSocket = configuration.transport == .webSocket
        let handler = RelayClientConnectionHandler(client: self, webSocket: webSocket)
        let proceed = inner.withLock { s -> Bool in
            guard !s.closed else { return false }
            s.state = .connecting
            s.current = handler
            s.retry = nil
            return true
        }
        guard proceed else { return }
        onStateChange(.connecting)
        ClientBootstrap(group: loop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: .init(low: configuration.writeBufferHighWaterMark / 2,
                                                                high: configuration.writeBufferHighWaterMark))
            .channelInitializer { [configuration] channel in
                channel.eventLoop.makeCompletedFuture {
                    if webSocket {
                        try RelayClientWebSocketStarter.configure(channel, handler: handler, configuration: configuration)
                    } else {
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                }
            }
            .connect(host: configuration.host, port: configuration.port)
            .whenFailure { [self] error in ended(handler, error: "connect: \(error)") }
    }

    func connected(_ handler: RelayClientConnectionHandler, channel: Channel, serverKey: PublicKey, info: RelayServerInfo) {
        let ok = inner.withLock { s -> Bool in
            guard s.current === handler, !s.closed else { return false }
            s.channel = channel
            s.state = .connected(serverKey: serverKey)
            s.stats.connects += 1
            s.maxPacket = min(Int(info.maxPacketBytes), RelayFrame.maxPayload - 32)
            s.backoff.connected(now: RelaySystem.now())
            return true
        }
        if ok {
            logger.debug("relay: connected to \(configuration.host):\(configuration.port) as \(nodeKey)")
            onStateChange(.connected(serverKey: serverKey))
        } else {
            channel.close(promise: nil)  // closed (or superseded) while this attempt was under way
        }
    }

    /// Packets the connection delivered in place (see `onPacket`), counted once per read.
    func receivedPackets(_ n: Int) { inner.withLock { $0.stats.packetsReceived += n } }

    func received(_ event: RelayClientEvent) {
        switch event {
        case .packet(let source, var packet):
            inner.withLock { $0.stats.packetsReceived += 1 }
            packet.withUnsafeMutableBytes { onPacket(source, $0) }
        case .peerGone(let key, let reason):
            onPeerGone(key, reason)
        case .pong(_, let rtt):
            if let rtt { inner.withLock { $0.stats.lastRTT = rtt } }
        case .send, .connected:
            break
        }
    }

    /// A connection attempt or connection is over; schedule the next one.
    func ended(_ handler: RelayClientConnectionHandler, error: String) {
        guard handler.markEnded() else { return }
        var entropy = RelaySystemEntropy()
        let next = inner.withLock { s -> State? in
            guard s.current === handler else { return nil }
            if s.channel != nil { s.stats.disconnects += 1 }
            s.channel = nil
            s.current = nil
            s.stats.lastError = error
            guard !s.closed else { return nil }
            let delay = s.backoff.nextDelay(now: RelaySystem.now(), entropy: &entropy)
            s.state = .waiting(retryIn: delay, lastError: error)
            s.retry = loop.scheduleTask(in: .nanoseconds(delay.nanoseconds)) { [self] in connect() }
            return s.state
        }
        if let next {
            logger.debug("relay: \(configuration.host):\(configuration.port): \(error); \(next)")
            onStateChange(next)
        }
    }
}

/// One connection attempt of a `RelayClient`: sends the upgrade request, checks the 101, then
/// runs a `RelayClientCore` over the frame stream. With the WebSocket transport the upgrade is
/// `RelayClientWebSocketStarter`'s, and this handler joins the pipeline after it, behind the
/// WebSocket codec and `RelayWebSocketFrameHandler`.
final class RelayClientConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Strong: the cycle client → current handler → client ends when the connection does.
    let client: RelayClient
    // Loop-confined.
    private var context: ChannelHandlerContext?
    private(set) var channel: Channel?
    private var core: RelayClientCore?
    private var httpBuffer: [UInt8] = []
    private var upgraded = false
    private var decoder = RelayFrameDecoder()
    private let endedFlag = Atomic<Bool>(false)
    private var entropy = RelaySystemEntropy()

    let webSocket: Bool

    init(client: RelayClient, webSocket: Bool = false) {
        self.client = client
        self.webSocket = webSocket
    }

    func markEnded() -> Bool { !endedFlag.exchange(true, ordering: .acquiringAndReleasing) }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.channel = context.channel
        if webSocket {
            // Added once the WebSocket upgrade is done: from here on the inbound ByteBuffers are
            // the frame stream.
            upgraded = true
            begin(channel: context.channel)
        }
    }

    /// The connection is up: start the core (its handshake timeout covers the HTTP upgrade).
    func begin(channel: Channel) {
        if self.channel == nil { self.channel = channel }
        guard core == nil else { return }
        core = RelayClientCore(privateKey: client.privateKey, config: client.configuration.relay, now: RelaySystem.now())
    }

    func channelActive(context: ChannelHandlerContext) {
        guard !webSocket else { return context.fireChannelActive() }
        let c = client.configuration
        let host = c.hostHeader ?? "\(c.host):\(c.port)"
        let request = "GET \(c.path) HTTP/1.1\r\nHost: \(host)\r\nConnection: Upgrade\r\nUpgrade: \(RelayService.upgradeProtocol)\r\n\r\n"
        begin(channel: context.channel)
        var buf = context.channel.allocator.buffer(capacity: request.utf8.count)
        buf.writeString(request)
        context.writeAndFlush(wrapOutboundOut(buf), promise: nil)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        client.ended(self, error: upgraded ? "connection closed" : "connection closed during the upgrade")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(context, "\(error)")
    }

    private func fail(_ context: ChannelHandlerContext, _ why: String) {
        client.ended(self, error: why)
        context.close(promise: nil)
    }

    /// The attempt failed before this handler joined the pipeline (WebSocket upgrade).
    func fail(_ why: String) {
        client.ended(self, error: why)
        channel?.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if upgraded {
            buffer.withUnsafeReadableBytes { decoder.append($0) }
        } else {
            httpBuffer.append(contentsOf: buffer.readableBytesView)
            guard let end = Self.headerEnd(httpBuffer) else {
                if httpBuffer.count > 16 * 1024 { fail(context, "HTTP response header too large") }
                return
            }
            let head = String(decoding: httpBuffer[..<end], as: UTF8.self)
            let lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
            let status = lines.first.map(String.init) ?? ""
            let upgradeHeader = lines.dropFirst().contains { line in
                let parts = line.split(separator: ":", maxSplits: 1)
                return parts.count == 2 && parts[0].lowercased() == "upgrade"
                    && parts[1].trimmingSpaces.lowercased() == RelayService.upgradeProtocol
            }
            guard status.hasPrefix("HTTP/1.1 101"), upgradeHeader else {
                fail(context, "relay refused the upgrade: \(status)")
                return
            }
            upgraded = true
            decoder.append(httpBuffer[(end + 4)...])
            httpBuffer = []
        }
        let now = RelaySystem.now(), unix = RelaySystem.unixTime()
        var delivered = 0
        let client = self.client
        do {
            while var core {
                // Once connected, RecvPacket frames go straight from the receive buffer to the
                // client's packet callback (no frame value, no event, no copy).
                let frame: RelayFrame?
                if core.isConnected {
                    frame = try decoder.next(deliveringPackets: { source, payload in
                        delivered += 1
                        client.onPacket(source, payload)
                    })
                } else {
                    frame = try decoder.next()
                }
                guard let frame else { break }
                let events = try core.receive(frame, now: now, unixTime: unix, entropy: &entropy)
                self.core = core
                for e in events { handle(e, context: context) }
            }
        } catch {
            fail(context, "\(error)")
        }
        if delivered > 0 {
            core?.noteReceived(now: now)
            client.receivedPackets(delivered)
        }
    }

    private func handle(_ e: RelayClientEvent, context: ChannelHandlerContext) {
        switch e {
        case .send(let frame):
            write(frame, context: context)
        case .connected(let key, let info):
            client.connected(self, channel: context.channel, serverKey: key, info: info)
        default:
            client.received(e)
        }
    }

    private func write(_ frame: RelayFrame, context: ChannelHandlerContext) {
        let bytes = frame.encoded
        var buf = context.channel.allocator.buffer(capacity: bytes.count)
        buf.writeBytes(bytes)
        context.writeAndFlush(wrapOutboundOut(buf), promise: nil)
    }

    /// Timers (on the loop): handshake and read timeouts, pings.
    func tick() {
        guard var core else { return }
        do {
            let frames = try core.tick(now: RelaySystem.now(), entropy: &entropy)
            self.core = core
            // Before the handler is in the pipeline (a WebSocket upgrade under way) there is no
            // stream to write to yet; the core only waits for ServerKey then.
            if let context { for f in frames { write(f, context: context) } }
        } catch {
            if let context { fail(context, "\(error)") } else { fail("\(error)") }
        }
    }

    static func headerEnd(_ b: [UInt8]) -> Int? {
        guard b.count >= 4 else { return nil }
        for i in 0...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 {
            return i
        }
        return nil
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}

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
            report("relay refused the upgrade: HTTP/\(head.version.major).\(head.version.minor) \(head.status.code) \(head.status.reasonPhrase)")
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        report("\(error)")
    }

    func channelInactive(context: ChannelHandlerContext) {
        report("connection closed during the upgrade")
        context.fireChannelInactive()
    }

    private func report(_ why: String) {
        guard !reported else { return }
        reported = true
        handler.fail(why)
    }
}
