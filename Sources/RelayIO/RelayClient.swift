import Logging
import MeshCrypto
import MeshHTTP
import MeshWire
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Relay
import Synchronization
import MeshBase

/// A node's connection to one relay: TCP, the HTTP upgrade (`Upgrade: mesh-relay`, or the
/// WebSocket variant for proxies that only pass WebSocket), the `RelayClientCore` handshake,
/// then packets in and out; reconnects with `Backoff` whenever the connection fails or
/// closes, until `close()`. Callbacks run on the client's event loop.
public final class RelayClient: Sendable {
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
        var backoff: Backoff
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
        /// The transport of the next attempt; the one that last worked is kept.
        var transport: Configuration.Transport
        /// Transports refused (a non-101 answer) since the last successful connection.
        var refused: Set<Configuration.Transport> = []
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
        self.inner = Mutex(Inner(backoff: configuration.backoff, transport: configuration.transport))
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

    /// Set by the pool for the node's home relay: peers send to the node through it, so its
    /// connection is watched closely even when the node itself sends nothing there.
    public var isHome: Bool {
        get { home.load(ordering: .relaxed) }
        set { home.store(newValue, ordering: .relaxed) }
    }
    private let home = Atomic<Bool>(false)

    public var state: State { inner.withLock { $0.state } }
    public var isConnected: Bool { inner.withLock { $0.channel != nil } }
    public var stats: Stats { inner.withLock { $0.stats } }
    /// The transport in use (when connected) or of the next attempt.
    public var transport: Configuration.Transport { inner.withLock { $0.transport } }

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
        let webSocket = inner.withLock { $0.transport == .webSocket }
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
        let tunnel = configuration.tls == nil ? nil : configuration.proxy.flatMap { $0.applies(to: configuration.host) ? $0 : nil }
        ClientBootstrap(group: loop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: .init(low: configuration.writeBufferHighWaterMark / 2,
                                                                high: configuration.writeBufferHighWaterMark))
            .channelInitializer { [configuration] channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tunnel {
                        try channel.pipeline.syncOperations.addHandler(
                            HTTPConnectTunnelHandler(proxy: tunnel, targetHost: configuration.host, targetPort: configuration.port))
                    }
                    if let tls = configuration.tls {
                        try channel.pipeline.syncOperations.addHandler(tls.handler(for: configuration.host))
                    }
                    if webSocket {
                        try RelayClientWebSocketStarter.configure(channel, handler: handler, configuration: configuration)
                    } else {
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                }
            }
            .connect(host: tunnel?.host ?? configuration.host, port: tunnel?.port ?? configuration.port)
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
            s.refused = []
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

    /// A connection attempt or connection is over; schedule the next one. `upgradeRefused`: the
    /// server (or a proxy) answered the upgrade with something else than 101, so the other
    /// transport is tried at once unless it was refused too since the last success (then the
    /// backoff paces both, so a relay refusing everything costs one attempt per delay).
    func ended(_ handler: RelayClientConnectionHandler, error: String, upgradeRefused: Bool = false) {
        guard handler.markEnded() else { return }
        var entropy = RelaySystemEntropy()
        let next = inner.withLock { s -> (State, switched: Configuration.Transport?)? in
            guard s.current === handler else { return nil }
            if s.channel != nil { s.stats.disconnects += 1 }
            s.channel = nil
            s.current = nil
            s.stats.lastError = error
            guard !s.closed else { return nil }
            var switched: Configuration.Transport?
            if upgradeRefused && configuration.fallBackToOtherTransport {
                s.refused.insert(s.transport)
                s.transport = s.transport.other
                if !s.refused.contains(s.transport) { switched = s.transport }
            }
            let delay: Duration = switched != nil ? .zero : s.backoff.nextDelay(now: RelaySystem.now(), entropy: &entropy)
            s.state = .waiting(retryIn: delay, lastError: error)
            s.retry = loop.scheduleTask(in: .nanoseconds(delay.nanoseconds)) { [self] in connect() }
            return (s.state, switched)
        }
        if let (state, switched) = next {
            if let switched {
                logger.notice("relay \(configuration.host):\(configuration.port): \(error); trying the \(switched.rawValue) transport")
            } else {
                logger.debug("relay: \(configuration.host):\(configuration.port): \(error); \(state)")
            }
            onStateChange(state)
        }
    }
}
