import Foundation
import Logging
import MagicSock
import MeshConfig
import MeshCrypto
import MeshIO
import MeshWire
import Netcheck
import NIOPosix
import RelayIO
import WireGuard

/// Everything mesh mode adds to the data plane: the disco path layer (MagicSock) steering each
/// datagram direct or through the relay, the relay connection to the coordinator, and periodic
/// STUN probing that finds the node's public endpoint. All of it shares the node's one socket.
final class NodePaths: @unchecked Sendable {
    struct NetmapPeer {
        var nodeKey: PublicKey
        var discoKey: PublicKey
        var endpoints: [String]
        var wireGuardPeer: Peer
    }

    let magic: MagicSock
    let relay: RelayClient?
    private let dataPlane: DataPlane
    private let udp: UDPTransport
    private let stunServers: [UDPAddress]
    private let logger: Logger
    private let lock = NSLock()
    private var probe: NetcheckProbe?
    private var lastReport: NetcheckReport?
    private var localEndpoints: [String] = []
    private var published: [String] = []
    private var stopped = false
    /// Called (off the data path) when the endpoints we should publish change.
    var onEndpointsChanged: (@Sendable ([String]) -> Void)?

    init(nodeKey: PrivateKey, discoKey: PrivateKey, coordinatorKey: PublicKey, relayURL: String?,
         stunServers: [UDPAddress], dataPlane: DataPlane, udp: UDPTransport, logger: Logger) {
        self.dataPlane = dataPlane
        self.udp = udp
        self.stunServers = stunServers
        self.logger = logger
        var relayClient: RelayClient? = nil
        let sendUDP: @Sendable ([UInt8], UDPAddress) -> Void = { [udp] bytes, to in
            bytes.withUnsafeBytes { udp.send($0, to: to) }
        }
        // The relay client is made after the MagicSock it feeds; the box closes the loop.
        let relayBox = RelayBox()
        magic = MagicSock(discoKey: discoKey, nodeKey: nodeKey.publicKey,
                          sendUDP: sendUDP,
                          sendRelay: { key, bytes in _ = relayBox.client?.send(to: key, packet: bytes) },
                          relayUp: { relayBox.client?.isConnected ?? false })
        if let relayURL, let target = Self.hostPort(relayURL) {
            var config = RelayClient.Configuration(host: target.host, port: target.port, pinnedServerKey: coordinatorKey)
            config.path = target.path
            let magic = self.magic
            relayClient = RelayClient(
                nodeKey: nodeKey, configuration: config, group: MultiThreadedEventLoopGroup.singleton,
                logger: logger,
                onReceive: { [dataPlane] source, packet in
                    guard let marker = magic.receiveFromRelay(packet, from: source, now: SystemClock.now()) else { return }
                    var copy = packet
                    copy.withUnsafeMutableBytes { dataPlane.receiveFromRelay($0, source: marker) }
                },
                onStateChange: { [logger] state in logger.info("relay: \(state)") })
        } else {
            logger.warning("no relay in the netmap: peers without a direct path are unreachable")
        }
        relay = relayClient
        relayBox.client = relayClient
        magic.onSTUN = { [weak self] bytes, from in self?.stunAnswer(bytes, from: from) }
    }

    final class RelayBox: @unchecked Sendable { var client: RelayClient? }

    static func hostPort(_ url: String) -> (host: String, port: Int, path: String)? {
        guard let c = URLComponents(string: url), let host = c.host else { return nil }
        return (host, c.port ?? (c.scheme == "https" ? 443 : 80), c.path.isEmpty ? "/relay" : c.path)
    }

    /// Gathers the node's LAN endpoints; called again every few seconds to notice a new address.
    private var gatherLocal: @Sendable () -> [String] = { [] }

    func start(gatherLocalEndpoints: @escaping @Sendable () -> [String]) {
        gatherLocal = gatherLocalEndpoints
        let local = gatherLocalEndpoints()
        lock.lock(); self.localEndpoints = local; lock.unlock()
        dataPlane.steering = magic
        relay?.start()
        let t = Thread { [weak self] in self?.timerLoop() }
        t.name = "mesh-paths"
        t.start()
    }

    func stop() {
        lock.lock(); stopped = true; lock.unlock()
        if let relay { Task { await relay.close() } }
    }

    /// Applies the netmap's peers: their disco keys and candidate endpoints.
    func setPeers(_ peers: [NetmapPeer]) {
        magic.setPeers(peers.map {
            MagicSock.PeerInfo(nodeKey: $0.nodeKey, discoKey: $0.discoKey,
                               endpoints: $0.endpoints.compactMap(Self.parseEndpoint), wireGuardPeer: $0.wireGuardPeer)
        })
    }

    static func parseEndpoint(_ s: String) -> UDPAddress? {
        (try? Endpoint(s)).map(UDPAddress.init)
    }

    /// Local interface addresses plus the STUN-mapped public endpoint.
    var endpoints: [String] {
        lock.lock(); defer { lock.unlock() }
        var out = localEndpoints
        if let pub = lastReport?.publicEndpoint?.description, !out.contains(pub) { out.insert(pub, at: 0) }
        return out
    }

    var netcheck: NetcheckReport? { lock.lock(); defer { lock.unlock() }; return lastReport }

    /// Disco drops by reason, for `meshctl status` (`discoDrops`).
    var discoDrops: [String: Int] { magic.discoDropsByReason }

    func pathDescription(for key: PublicKey) -> String? {
        magic.pathStatus().first { $0.nodeKey == key }?.description
    }

    // MARK: Timers: path upkeep every 100 ms, STUN every 20–26 s

    private func timerLoop() {
        var nextProbe = SystemClock.now()
        var nextAddressCheck = nextProbe + .seconds(2)
        var nextDropReport = nextProbe + .seconds(30)
        var reportedDrops: [String: Int] = [:]
        var entropy = SystemEntropy()
        while true {
            let now = SystemClock.now()
            lock.lock()
            if stopped { lock.unlock(); return }
            lock.unlock()
            magic.tick(now: now)
            if now >= nextDropReport {
                // Drops are never logged per packet (a flood would become a log flood); a
                // summary at most every 30 s says that something is knocking.
                nextDropReport = now + .seconds(30)
                let drops = magic.discoDropsByReason
                let delta = drops.compactMap { reason, n -> (String, Int)? in
                    let d = n &- (reportedDrops[reason] ?? 0)
                    return d > 0 ? (reason, d) : nil
                }.sorted { $0.0 < $1.0 }
                if !delta.isEmpty {
                    let total = delta.reduce(0) { $0 &+ $1.1 }
                    let parts = delta.map { "\($0.0) \($0.1)" }.joined(separator: ", ")
                    logger.notice("disco: dropped \(total) datagrams in the last 30 s (\(parts))")
                    reportedDrops = drops
                }
            }
            if now >= nextAddressCheck {
                // A cheap periodic check (getifaddrs) for a changed LAN address: re-learn the
                // public endpoint at once and publish both.
                nextAddressCheck = now + .seconds(2)
                let local = gatherLocal()
                lock.lock()
                let changed = local != localEndpoints
                if changed { localEndpoints = local }
                lock.unlock()
                if changed {
                    logger.info("local addresses changed: \(local)")
                    nextProbe = now
                }
            }
            if now >= nextProbe, !stunServers.isEmpty {
                lock.lock()
                probe = NetcheckProbe(stunServers: stunServers, now: now, timeout: .seconds(3), entropy: &entropy)
                lock.unlock()
                nextProbe = now + .seconds(20) + .milliseconds(Int64(entropy.nextUInt32() % 6000))
            }
            runProbe(now: now)
            usleep(100_000)
        }
    }

    private func runProbe(now: MonotonicTime) {
        lock.lock()
        guard var p = probe else { lock.unlock(); return }
        let sends = p.poll(now: now)
        var finished: NetcheckReport? = nil
        if p.isDone(now: now) { finished = p.result; probe = nil } else { probe = p }
        var changed: [String]? = nil
        if let finished {
            lastReport = finished
            var eps = localEndpoints
            if let pub = finished.publicEndpoint?.description, !eps.contains(pub) { eps.insert(pub, at: 0) }
            if eps != published { published = eps; changed = eps }
        }
        lock.unlock()
        for (bytes, to) in sends { bytes.withUnsafeBytes { udp.send($0, to: to) } }
        if let changed {
            magic.setOwnEndpoints(changed.compactMap(Self.parseEndpoint))
            onEndpointsChanged?(changed)
        }
    }

    private func stunAnswer(_ bytes: [UInt8], from: UDPAddress) {
        lock.lock()
        probe?.receive(bytes, from: from, now: SystemClock.now())
        lock.unlock()
    }
}
