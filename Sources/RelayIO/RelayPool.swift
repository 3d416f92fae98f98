import Logging
import MeshCrypto
import MeshHTTP
import MeshTLS
import MeshWire
import NIOCore
import Relay
import Synchronization

/// The node's connections to every relay the coordinator lists (its own relay first, then
/// the regions an admin added). Holding all of them means a relay that fails costs nothing
/// but a home change: each peer is still reachable through the others, and a packet to a
/// peer goes through the peer's home relay (`HomeRelayChoice.route`). Relay hosts are named
/// by DNS names; each reconnect resolves the name afresh.
public final class RelayPool: Sendable {
    /// A hostile or mistaken coordinator config cannot make a node open unbounded connections.
    public static let maxRelays = 8

    public struct Status: Sendable, Equatable {
        public var id: String
        public var url: String
        public var connected: Bool
        public var home: Bool
        public var stats: RelayClient.Stats
        public var transport: RelayClient.Configuration.Transport
        /// STUN round trip from the latest netcheck, when the relay's STUN server answered.
        public var latencyMillis: Int?
    }

    struct Member {
        var info: RelayInfo
        var client: RelayClient
    }

    struct State {
        var order: [String] = []
        var members: [String: Member] = [:]
        var home: String?
        var peerHomes: [PublicKey: String] = [:]
        var latencyMillis: [String: Int] = [:]
        var closed = false
    }

    let state = Mutex(State())
    /// The home last told to `onHomeChanged`. Concurrent re-evaluations may finish in any
    /// order; telling under this lock what `state` holds then keeps the last word current.
    let announcedHome = Mutex<String??>(.none)
    let nodeKey: PrivateKey
    let group: EventLoopGroup
    let logger: Logger
    let onPacket: @Sendable (PublicKey, UnsafeMutableRawBufferPointer) -> Void
    let onHomeChanged: @Sendable (String?) -> Void
    /// A relay connection came up (its id): what could not be sent before (a WireGuard
    /// handshake sent while no relay was up) is worth sending now rather than at its retry.
    let onConnected: @Sendable (String) -> Void
    let tune: @Sendable (inout RelayClient.Configuration) -> Void
    let tls: TLSClient?
    let proxy: HTTPSProxy?

    /// - Parameter tls: the roots `https://` relays are checked against (none: such relays are skipped).
    /// - Parameter tune: adjusts each connection's settings (tests shorten the backoff).
    /// - Parameter proxy: `https://` relays are reached through it (CONNECT) unless they bypass it.
    public init(nodeKey: PrivateKey, group: EventLoopGroup, logger: Logger, tls: TLSClient? = nil, proxy: HTTPSProxy? = nil,
                tune: @escaping @Sendable (inout RelayClient.Configuration) -> Void = { _ in },
                onPacket: @escaping @Sendable (PublicKey, UnsafeMutableRawBufferPointer) -> Void,
                onHomeChanged: @escaping @Sendable (String?) -> Void,
                onConnected: @escaping @Sendable (String) -> Void = { _ in }) {
        self.onConnected = onConnected
        self.tune = tune
        self.tls = tls
        self.proxy = proxy
        self.nodeKey = nodeKey
        self.group = group
        self.logger = logger
        self.onPacket = onPacket
        self.onHomeChanged = onHomeChanged
    }

    /// Follows the coordinator's relay list: new relays are connected, removed or changed
    /// ones closed. Entries that cannot be used are logged and skipped.
    public func configure(_ relays: [RelayInfo]) {
        var usable: [(RelayInfo, RelayClient.Configuration)] = []
        var seen = Set<String>()
        for info in relays where usable.count < Self.maxRelays {
            guard seen.insert(info.id).inserted else { continue }
            guard let url = RelayURL(info.url) else {
                logger.warning("relay \(info.id): unusable URL \(info.url); skipped")
                continue
            }
            if url.secure, tls == nil {
                logger.warning("relay \(info.id): https relay but no TLS set up; skipped")
                continue
            }
            var pinned: PublicKey? = nil
            if let k = info.key {
                guard let key = try? PublicKey(base64: k) else {
                    logger.warning("relay \(info.id): bad key; skipped")
                    continue
                }
                pinned = key
            }
            var config = RelayClient.Configuration(host: url.host, port: url.port, pinnedServerKey: pinned)
            config.path = url.path
            config.hostHeader = url.hostPort
            if url.secure {
                config.tls = tls
                config.proxy = proxy
            }
            tune(&config)
            usable.append((info, config))
        }
        if relays.count > usable.count {
            logger.notice("relays: using \(usable.count) of the \(relays.count) the coordinator lists")
        }
        var started: [RelayClient] = [], closing: [RelayClient] = []
        state.withLock { s in
            guard !s.closed else { return }
            var next: [String: Member] = [:]
            for (info, config) in usable {
                if let old = s.members[info.id], old.info.url == info.url, old.info.key == info.key {
                    // A changed name or STUN port is no reason to drop a working connection.
                    next[info.id] = Member(info: info, client: old.client)
                    continue
                }
                if let old = s.members[info.id] { closing.append(old.client) }
                let id = info.id
                let client = RelayClient(
                    nodeKey: nodeKey, configuration: config, group: group, logger: logger,
                    onPacket: onPacket,
                    onStateChange: { [weak self, logger] st in
                        logger.info("relay \(id): \(st)")
                        self?.evaluateHome()
                        if case .connected = st { self?.onConnected(id) }
                    })
                next[info.id] = Member(info: info, client: client)
                started.append(client)
            }
            for (id, m) in s.members where next[id] == nil { closing.append(m.client) }
            s.members = next
            s.order = usable.map(\.0.id)
        }
        for c in started { c.start() }
        if !closing.isEmpty {
            Task { for c in closing { await c.close() } }
        }
        evaluateHome()
    }

    /// Where each peer says it is at home (from the netmap).
    public func setPeerHomes(_ homes: [PublicKey: String]) {
        state.withLock { $0.peerHomes = homes }
    }

    /// STUN round trips per relay id from the latest netcheck.
    public func noteLatencies(_ millis: [String: Int]) {
        state.withLock { $0.latencyMillis = millis }
        evaluateHome()
    }

    public var home: String? { state.withLock { $0.home } }

    public var isAnyConnected: Bool {
        let clients = state.withLock { s in s.members.values.map(\.client) }
        return clients.contains { $0.isConnected }
    }

    public var statuses: [Status] {
        let (order, members, home, latency) = state.withLock { ($0.order, $0.members, $0.home, $0.latencyMillis) }
        return order.compactMap { id in
            members[id].map { m in
                Status(id: id, url: m.info.url, connected: m.client.isConnected, home: id == home, stats: m.client.stats,
                       transport: m.client.transport, latencyMillis: latency[id])
            }
        }
    }

    /// Sends through the peer's home relay (or ours). False when no relay took it.
    @discardableResult
    public func send(to peer: PublicKey, packet: [UInt8]) -> Bool {
        packet.withUnsafeBytes { send(to: peer, datagram: $0) }
    }

    /// The data path's send: one lock, no allocation (the choice reads the members in place).
    @discardableResult
    public func send(to peer: PublicKey, datagram: UnsafeRawBufferPointer) -> Bool {
        let client = state.withLock { s -> RelayClient? in
            let id = HomeRelayChoice.route(peerHome: s.peerHomes[peer], home: s.home, order: s.order,
                                           isConnected: { s.members[$0]?.client.isConnected == true })
            return id.flatMap { s.members[$0]?.client }
        }
        return client?.send(to: peer, datagram: datagram) ?? false
    }

    /// Re-chooses the home relay; tells `onHomeChanged` when it moved.
    public func evaluateHome() {
        let (order, clients) = state.withLock { s in (s.order, s.members.mapValues(\.client)) }
        let connected = Set(order.filter { clients[$0]?.isConnected == true })  // off the data path
        let changed: String?? = state.withLock { s in
            guard !s.closed else { return nil }
            let chosen = HomeRelayChoice.choose(order: order, connected: connected, latencyMillis: s.latencyMillis,
                                                current: s.home) ?? s.home
            guard chosen != s.home else { return nil }
            s.home = chosen
            return .some(chosen)
        }
        for (id, client) in clients { client.isHome = id == (changed ?? home) }
        guard changed != nil else { return }
        announcedHome.withLock { announced in
            let current = home
            guard announced != .some(current) else { return }
            announced = .some(current)
            logger.info("home relay: \(current ?? "none")")
            onHomeChanged(current)
        }
    }

    public func close() async {
        let clients = state.withLock { s in
            s.closed = true
            let c = s.members.values.map(\.client)
            s.members = [:]
            s.order = []
            return c
        }
        for c in clients { await c.close() }
    }
}
