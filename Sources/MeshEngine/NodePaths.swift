import MeshHTTP
import Foundation
import Logging
import MagicSock
import MeshConfig
import MeshCrypto
import MeshIO
import MeshTLS
import MeshWire
import Netcheck
import NIOPosix
import RelayIO
import WireGuard

/// Everything mesh mode adds to the data plane: the disco path layer (MagicSock) steering each
/// datagram direct or through a relay, the connections to the relays the coordinator lists,
/// and periodic STUN probing of those relays' STUN servers (names resolved on their own
/// thread) that finds the node's public endpoint and the home relay. All of it shares the
/// node's one socket.
///
/// Sendable by hand: the mutable fields are guarded by `lock` (endpoints, probe state, stopped)
/// or `resolveSignal` (STUN names and what they resolved to); `gatherLocal` and the two
/// callbacks are set before `start()` spawns the threads that read them.
public final class NodePaths: @unchecked Sendable {
    public let magic: MagicSock
    public let relays: RelayPool
    private let dataPlane: DataPlane
    private let udp: UDPTransport
    private let logger: Logger
    private let lock = Lock()
    private var probe: NetcheckProbe?
    /// Which relay each probed STUN address belongs to, for the home relay's latency.
    private var probeRelays: [UDPAddress: String] = [:]
    private var lastReport: NetcheckReport?
    private var localEndpoints: [String] = []
    private var published: [String] = []
    private var stopped = false
    /// The STUN servers the coordinator names, and what they resolved to last.
    private var stunNames: [STUNServerName] = []
    private var stunResolved: [(address: UDPAddress, relayID: String)] = []
    /// How many names resolved to no address last time (they are retried every 10 s).
    private var stunUnresolvedCount = 0
    private var resolveWanted = false
    /// The resolved STUN servers changed: probe them on the next tick, not in 20 s.
    private var probeSoon = false
    private let resolveSignal = NSCondition()
    /// Called (off the data path) when the endpoints we should publish change.
    public var onEndpointsChanged: (@Sendable ([String]) -> Void)?
    /// Called when the home relay changes (it is published to the coordinator so peers send there).
    public var onHomeRelayChanged: (@Sendable (String?) -> Void)?

    /// - Parameter tls: the roots TLS relays are checked against.
    public init(nodeKey: PrivateKey, discoKey: PrivateKey, dataPlane: DataPlane, udp: UDPTransport, tls: TLSClient? = nil,
                proxy: HTTPSProxy? = nil, logger: Logger) {
        self.dataPlane = dataPlane
        self.udp = udp
        self.logger = logger
        let sendUDP: @Sendable ([UInt8], UDPAddress) -> Void = { [udp] bytes, to in
            bytes.withUnsafeBytes { udp.send($0, to: to) }
        }
        // The pool delivers into the MagicSock made just after it; the box closes the loop.
        let magicBox = MagicBox()
        let homeBox = HomeBox()
        relays = RelayPool(
            nodeKey: nodeKey, group: MultiThreadedEventLoopGroup.singleton, logger: logger, tls: tls, proxy: proxy,
            onPacket: { [dataPlane] source, packet in
                // In place in the relay connection's receive buffer: decrypted there, no copy.
                guard let magic = magicBox.magic,
                      magic.receiveFromRelay(UnsafeRawBufferPointer(packet), from: source, now: SystemClock.now())
                else { return }
                dataPlane.receiveFromRelay(packet)
            },
            onHomeChanged: { home in homeBox.paths?.onHomeRelayChanged?(home) },
            onConnected: { [device = dataPlane.device] _ in
                // A handshake sent before any relay was up (a restart, or the first seconds
                // after a join) went nowhere: retry it now, not after REKEY_TIMEOUT (5 s).
                let now = SystemClock.now()
                for peer in device.peers { device.expediteHandshake(peer, now: now) }
            })
        let pool = relays
        magic = MagicSock(discoKey: discoKey, nodeKey: nodeKey.publicKey,
                          sendUDP: sendUDP,
                          sendRelayDatagram: { key, datagram in pool.send(to: key, datagram: datagram) },
                          relayUp: { pool.isAnyConnected },
                          entropy: SystemEntropy(), clock: SystemClock.now)
        magicBox.magic = magic
        homeBox.paths = self
        magic.onSTUN = { [weak self] bytes, from in self?.stunAnswer(bytes, from: from) }
        magic.onDirectPathConfirmed = { [device = dataPlane.device] peer in
            device.expediteHandshake(peer, now: SystemClock.now())
        }
    }

    /// Sendable by hand: written once in `init`, before `setRelays` can open any relay
    /// connection whose callbacks read it; only read after that.
    final class MagicBox: @unchecked Sendable { var magic: MagicSock? }
    /// Sendable by hand: written once in `init`, like `MagicBox`.
    final class HomeBox: @unchecked Sendable { weak var paths: NodePaths? }

    /// Follows the coordinator's relay list: relay connections, and the STUN servers probed.
    public func setRelays(_ list: [RelayInfo]) {
        relays.configure(list)
        let names = STUNServerName.servers(of: list, maxRelays: RelayPool.maxRelays)
        resolveSignal.lock()
        let changed = names != stunNames
        if changed { stunNames = names; resolveWanted = true; resolveSignal.signal() }
        resolveSignal.unlock()
        if changed { logger.info("STUN servers: \(names.map(\.description))") }
    }

    /// Where each peer is at home, so relayed packets go to the relay the peer listens on.
    public func setPeerHomes(_ homes: [PublicKey: String]) { relays.setPeerHomes(homes) }

    /// Gathers the node's LAN endpoints; called again every few seconds to notice a new address.
    private var gatherLocal: @Sendable () -> [String] = { [] }

    public func start(gatherLocalEndpoints: @escaping @Sendable () -> [String]) {
        gatherLocal = gatherLocalEndpoints
        let local = gatherLocalEndpoints()
        lock.lock(); self.localEndpoints = local; lock.unlock()
        let t = Thread { [weak self] in self?.timerLoop() }
        t.name = "mesh-paths"
        t.start()
        let r = Thread { [weak self] in self?.resolveLoop() }
        r.name = "mesh-resolve"
        r.start()
    }

    public func stop() {
        lock.lock(); stopped = true; lock.unlock()
        resolveSignal.lock(); resolveSignal.signal(); resolveSignal.unlock()
        let pool = relays
        Task { await pool.close() }
    }

    /// Applies the netmap's peers: their disco keys and candidate endpoints.
    public func setPeers(_ peers: [MagicSock.PeerInfo]) { magic.setPeers(peers) }

    public static func parseEndpoint(_ s: String) -> UDPAddress? {
        (try? Endpoint(s)).map(UDPAddress.init)
    }

    /// Local interface addresses plus the STUN-mapped public endpoint.
    public var endpoints: [String] {
        lock.withLock { ProbeOutcome.publishable(local: localEndpoints, public: lastReport?.publicEndpoints ?? []) }
    }

    public var netcheck: NetcheckReport? { lock.withLock { lastReport } }

    /// Disco drops by reason, for `meshctl status` (`discoDrops`).
    public var discoDrops: [String: Int] { magic.discoDropsByReason }

    public func pathDescription(for key: PublicKey) -> String? {
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
                nextDropReport = now + .seconds(30)
                let drops = magic.discoDropsByReason
                if let line = DiscoDropSummary.line(current: drops, reported: reportedDrops) {
                    logger.notice("disco: \(line)")
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
                    // A family gained or lost changes which STUN addresses are worth probing.
                    resolveSignal.lock(); resolveWanted = true; resolveSignal.signal(); resolveSignal.unlock()
                }
            }
            resolveSignal.lock()
            if probeSoon { probeSoon = false; nextProbe = now }
            resolveSignal.unlock()
            if now >= nextProbe {
                resolveSignal.lock()
                let servers = stunResolved
                resolveSignal.unlock()
                if !servers.isEmpty {
                    lock.lock()
                    probe = NetcheckProbe(stunServers: servers.map(\.address), now: now, timeout: .seconds(3), entropy: &entropy)
                    probeRelays = Dictionary(servers.map { ($0.address, $0.relayID) }, uniquingKeysWith: { a, _ in a })
                    lock.unlock()
                    nextProbe = now + .seconds(20) + .milliseconds(Int64(entropy.nextUInt32() % 6000))
                }
                // Nothing resolved yet: the probe stays due, and starts on the first tick after
                // the resolver thread has an address.
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
        var latency: [String: Int]? = nil
        var unanswered = false
        if let finished {
            lastReport = finished
            let outcome = ProbeOutcome(report: finished, relayOfServer: probeRelays, localEndpoints: localEndpoints)
            latency = outcome.relayLatencyMillis
            unanswered = outcome.anyUnanswered
            if outcome.endpoints != published { published = outcome.endpoints; changed = outcome.endpoints }
        }
        lock.unlock()
        for (bytes, to) in sends { bytes.withUnsafeBytes { udp.send($0, to: to) } }
        if let latency { relays.noteLatencies(latency) }
        if unanswered {
            // A server that stopped answering may have moved: resolve the names again now.
            resolveSignal.lock(); resolveWanted = true; resolveSignal.signal(); resolveSignal.unlock()
        }
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


    // MARK: Name resolution (its own thread: getaddrinfo blocks, the timers must not)

    /// Resolves the STUN servers' names when the list changes, when a probe went unanswered,
    /// when the local addresses change, and every 5 minutes; names that resolve to nothing are
    /// retried every 10 s. Each name is probed in every family the node has (`STUNResolution`).
    private func resolveLoop() {
        var reportedUnresolved = Set<String>()
        while true {
            resolveSignal.lock()
            if !resolveWanted {
                let retrySoon = stunUnresolvedCount > 0
                _ = resolveSignal.wait(until: Date(timeIntervalSinceNow: retrySoon ? 10 : 300))
            }
            resolveWanted = false
            let names = stunNames
            resolveSignal.unlock()
            lock.lock(); let done = stopped; let families = STUNResolution.Families(localEndpoints: localEndpoints); lock.unlock()
            if done { return }
            let result = STUNResolution.resolve(names, families: families, using: HostResolver.resolve(host:port:))
            let (resolved, unresolved) = (result.resolved, result.unresolved)
            resolveSignal.lock()
            let current = names == stunNames
            let changed = current && resolved.map(\.address) != stunResolved.map(\.address)
            if current { stunResolved = resolved; stunUnresolvedCount = unresolved.count }
            if changed { probeSoon = true }
            resolveSignal.unlock()
            if changed {
                logger.info("STUN servers resolved: \(resolved.map { "\($0.relayID) \($0.address)" })")
            }
            let hosts = Set(unresolved.map(\.host))
            if hosts != reportedUnresolved, !hosts.isEmpty {
                logger.warning("STUN: could not resolve \(hosts.sorted()); retrying every 10 s")
            }
            reportedUnresolved = hosts
        }
    }
}
