import Disco
import Foundation
import MeshCrypto
import MeshIO
import WireGuard

/// Mesh mode's path layer over the node's one UDP socket: for every peer it runs the disco
/// path state machine, answers and sends disco Pings, Pongs and CallMeMaybes, and steers each
/// WireGuard datagram to the direct path, the relay, or both (DESIGN.md section 5). It does no
/// I/O itself: sending on the socket and through the relay are closures the node supplies.
public final class MagicSock: OverlaySteering, @unchecked Sendable {
    /// What the netmap says about a peer.
    public struct PeerInfo: Sendable {
        public var nodeKey: PublicKey
        public var discoKey: PublicKey
        public var endpoints: [UDPAddress]
        public var wireGuardPeer: Peer
        public init(nodeKey: PublicKey, discoKey: PublicKey, endpoints: [UDPAddress], wireGuardPeer: Peer) {
            self.nodeKey = nodeKey
            self.discoKey = discoKey
            self.endpoints = endpoints
            self.wireGuardPeer = wireGuardPeer
        }
    }

    /// A peer's path as `meshctl status` shows it.
    public struct PathStatus: Sendable {
        public var nodeKey: PublicKey
        public var direct: UDPAddress?
        public var latency: Duration?
        public var trusted: Bool
        public var relay: Bool
        public var description: String {
            if let direct, trusted { return "direct \(direct)" }
            if let direct { return "direct \(direct) (unconfirmed, also relay)" }
            return relay ? "relay" : "none"
        }
    }

    final class PeerState {
        var info: PeerInfo
        var path: PeerPath
        init(info: PeerInfo, timings: PathTimings) {
            self.info = info
            path = PeerPath(timings: timings)
            path.setCandidates(info.endpoints)
        }
    }

    public let discoKey: PrivateKey
    public let nodeKey: PublicKey
    private let timings: PathTimings
    private let sendUDP: @Sendable ([UInt8], UDPAddress) -> Void
    private let sendRelay: @Sendable (PublicKey, [UInt8]) -> Void
    private let relayUp: @Sendable () -> Bool
    private let lock = NSLock()
    private var byPeer: [ObjectIdentifier: PeerState] = [:]
    private var byDisco: [PublicKey: PeerState] = [:]
    private var byNode: [PublicKey: PeerState] = [:]
    private var ownEndpoints: [UDPAddress] = []
    private var entropy = SystemEntropy()
    /// Non-disco, non-WireGuard traffic (STUN answers) goes here.
    public var onSTUN: (@Sendable ([UInt8], UDPAddress) -> Void)?
    public private(set) var discoDropped = 0

    public init(discoKey: PrivateKey, nodeKey: PublicKey, timings: PathTimings = .standard,
                sendUDP: @escaping @Sendable ([UInt8], UDPAddress) -> Void,
                sendRelay: @escaping @Sendable (PublicKey, [UInt8]) -> Void,
                relayUp: @escaping @Sendable () -> Bool = { true }) {
        self.discoKey = discoKey
        self.nodeKey = nodeKey
        self.timings = timings
        self.sendUDP = sendUDP
        self.sendRelay = sendRelay
        self.relayUp = relayUp
    }

    // MARK: Netmap

    /// Replaces the peer set; paths of peers that stay keep their state.
    public func setPeers(_ peers: [PeerInfo]) {
        lock.lock(); defer { lock.unlock() }
        var next: [ObjectIdentifier: PeerState] = [:]
        for info in peers {
            let id = ObjectIdentifier(info.wireGuardPeer)
            let state = byPeer[id] ?? PeerState(info: info, timings: timings)
            state.info = info
            state.path.setCandidates(info.endpoints)
            next[id] = state
        }
        byPeer = next
        byDisco = Dictionary(next.values.map { ($0.info.discoKey, $0) }, uniquingKeysWith: { a, _ in a })
        byNode = Dictionary(next.values.map { ($0.info.nodeKey, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Our own candidate endpoints, sent to peers in CallMeMaybe.
    public func setOwnEndpoints(_ endpoints: [UDPAddress]) {
        lock.lock(); ownEndpoints = endpoints; lock.unlock()
    }

    public func pathStatus() -> [PathStatus] {
        lock.lock(); defer { lock.unlock() }
        let now = MonotonicTimeSource.now()
        return byPeer.values.map { s in
            PathStatus(nodeKey: s.info.nodeKey, direct: s.path.best, latency: s.path.bestLatency,
                       trusted: s.path.isTrusted(now: now), relay: !s.path.isTrusted(now: now))
        }
    }

    // MARK: OverlaySteering

    public func steer(peer: Peer, endpoint: UDPAddress, now: MonotonicTime) -> SteeringDecision {
        lock.lock(); defer { lock.unlock() }
        guard let state = byPeer[ObjectIdentifier(peer)] else {
            return RelayMarker.isMarker(endpoint) ? .drop : .direct(endpoint)
        }
        let route = state.path.route(now: now)
        switch (route.direct, route.relay) {
        case (let d?, false): return .direct(d)
        case (let d?, true): return .both(d)
        default: return .relay
        }
    }

    public func sendViaRelay(_ datagram: UnsafeRawBufferPointer, to peer: Peer) {
        lock.lock()
        let key = byPeer[ObjectIdentifier(peer)]?.info.nodeKey
        lock.unlock()
        if let key { sendRelay(key, Array(datagram)) }
    }

    public func receive(_ datagram: UnsafeRawBufferPointer, kind: DatagramKind, from source: UDPAddress, now: MonotonicTime) {
        switch kind {
        case .disco: handleDisco(Array(datagram), from: source, viaRelay: false, now: now)
        case .stun: onSTUN?(Array(datagram), source)
        default: break
        }
    }

    public func noteReceived(from peer: Peer, source: UDPAddress, now: MonotonicTime) {
        lock.lock()
        byPeer[ObjectIdentifier(peer)]?.path.noteReceived(now: now)
        lock.unlock()
    }

    /// Something the relay delivered from `nodeKey`: disco is handled here; anything else is a
    /// WireGuard datagram, returned with the marker address it must be decapsulated under.
    public func receiveFromRelay(_ packet: [UInt8], from nodeKey: PublicKey, now: MonotonicTime) -> UDPAddress? {
        if DiscoPacket.looksLikeDisco(packet) {
            handleDisco(packet, from: RelayMarker.address(for: nodeKey), viaRelay: true, now: now)
            return nil
        }
        return RelayMarker.address(for: nodeKey)
    }

    // MARK: Disco

    private func handleDisco(_ bytes: [UInt8], from source: UDPAddress, viaRelay: Bool, now: MonotonicTime) {
        guard let opened = try? DiscoPacket.open(bytes, with: discoKey) else { countDrop(); return }
        lock.lock()
        guard let state = byDisco[opened.sender] else { lock.unlock(); countDrop(); return }
        var out: [(DiscoMessage, UDPAddress?)] = []  // nil destination: through the relay
        switch opened.message {
        case .ping(let txid, let senderNodeKey, _):
            guard senderNodeKey == state.info.nodeKey else { lock.unlock(); countDrop(); return }
            out.append((.pong(txid: txid, source: source), viaRelay ? nil : source))
            if !viaRelay {
                out += actions(state.path.handlePing(from: source, now: now, entropy: &entropy), state)
            }
        case .pong(let txid, _):
            if !viaRelay { state.path.handlePong(txid: txid, from: source, now: now) }
        case .callMeMaybe(let endpoints):
            out += actions(state.path.handleCallMeMaybe(endpoints, now: now, entropy: &entropy), state)
        }
        let peerDisco = state.info.discoKey, peerNode = state.info.nodeKey
        lock.unlock()
        send(out, peerDisco: peerDisco, peerNode: peerNode)
    }

    /// Runs every peer's path timers; call every 100–250 ms.
    public func tick(now: MonotonicTime) {
        lock.lock()
        var work: [([(DiscoMessage, UDPAddress?)], PublicKey, PublicKey)] = []
        for state in byPeer.values {
            let a = actions(state.path.poll(now: now, entropy: &entropy), state)
            if !a.isEmpty { work.append((a, state.info.discoKey, state.info.nodeKey)) }
        }
        lock.unlock()
        for (out, disco, node) in work { send(out, peerDisco: disco, peerNode: node) }
    }

    /// Turns path actions into disco messages (called under the lock).
    private func actions(_ list: [PeerPath.Action], _ state: PeerState) -> [(DiscoMessage, UDPAddress?)] {
        list.map { action in
            switch action {
            case .ping(let addr, let txid): return (.ping(txid: txid, nodeKey: nodeKey, padding: 0), addr)
            case .callMeMaybe: return (.callMeMaybe(endpoints: ownEndpoints), nil)
            }
        }
    }

    private func send(_ out: [(DiscoMessage, UDPAddress?)], peerDisco: PublicKey, peerNode: PublicKey) {
        for (message, destination) in out {
            var e = SystemEntropy()
            guard let packet = DiscoPacket.seal(message, from: discoKey, to: peerDisco, entropy: &e) else { continue }
            if let destination, !RelayMarker.isMarker(destination) {
                sendUDP(packet, destination)
            } else if relayUp() {
                sendRelay(peerNode, packet)
            }
        }
    }

    private func countDrop() {
        lock.lock(); discoDropped += 1; lock.unlock()
    }
}

/// The monotonic clock, for status snapshots taken outside the data path.
enum MonotonicTimeSource {
    static func now() -> MonotonicTime { SystemClock.now() }
}
