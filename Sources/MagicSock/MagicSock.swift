import Disco
import Foundation
import MeshCrypto
import MeshIO
import WireGuard

/// Mesh mode's path layer over the node's one UDP socket: for every peer it runs the disco
/// path state machine, answers and sends disco Pings, Pongs and CallMeMaybes, and steers each
/// WireGuard datagram to the direct path, the relay, or both (DESIGN.md section 5). It does no
/// I/O itself: sending on the socket and through the relay are closures the node supplies.
///
/// Admission of a disco datagram, cheapest check first: shape and magic; the sender's disco
/// key (clear header) must be a current peer's, looked up with no copy and no public-key
/// work; the relaying node must own that key; a per-source budget; the box must open with the
/// peer's shared key (computed once per disco key); then per-peer budgets on Pongs and
/// CallMeMaybes. Each refusal is counted by reason, never logged per packet.
///
/// Every random byte (disco nonces, transaction ids, the rate limiter's seed) comes from the
/// injected entropy source and the one time it reads itself (status snapshots) comes from the
/// injected clock, so a test with a seeded source and a manual clock can tell a confirmed path
/// from an unconfirmed one at an exact instant and sees the same datagrams on every run.
///
/// Sendable by hand: every mutable field (the peer tables, entropy, rate limiters, counters,
/// the STUN handler) is guarded by `lock`; the closures it calls are `@Sendable`.
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
        /// The endpoints the netmap publishes for the peer (why-relayed reasoning looks at
        /// whether any of them is public).
        public var published: [UDPAddress] = []
        /// Disco Pings sent to the peer's direct candidates, and Pongs that answered one of
        /// them, since the peer joined this node's netmap: Pings without a single Pong mean no
        /// candidate answers (yet).
        public var pingsSent: UInt64 = 0
        public var pongsReceived: UInt64 = 0
        /// No data either way for the path layer's session timeout (only keepalives flow).
        public var idle: Bool = true
        public var description: String {
            if let direct, trusted { return "direct \(direct)" }
            if let direct { return "direct \(direct) (unconfirmed, also relay)" }
            return relay ? "relay" : "none"
        }
    }

    /// Derives the box key shared with a peer's disco key: the one X25519 disco does per peer.
    /// Injectable so tests can count the calls.
    public typealias KeyAgreement = @Sendable (_ peer: PublicKey, _ own: PrivateKey) -> Box.SharedKey?

    final class PeerState {
        var info: PeerInfo
        var path: PeerPath
        /// The box key for `sharedFor`; nil when that key is unusable (a low-order point).
        var shared: Box.SharedKey?
        var sharedFor: PublicKey?
        var pongs: TokenBucket
        var callMeMaybes: TokenBucket
        /// Disco through the relay has no source address for the per-source limiter: this
        /// peer's relayed disco gets the same budget, checked before the box is opened.
        var relayedDisco: TokenBucket
        var credit: ResponseCredit
        /// For status only: see `PathStatus.pingsSent`, `pongsReceived`, `idle`.
        var pingsSent: UInt64 = 0
        var pongsReceived: UInt64 = 0
        var lastData: MonotonicTime?
        init(info: PeerInfo, timings: PathTimings, limits: DiscoLimits) {
            self.info = info
            path = PeerPath(timings: timings)
            pongs = TokenBucket(burst: limits.pongBurst, every: limits.pongInterval)
            callMeMaybes = TokenBucket(burst: limits.callMeMaybeBurst, every: limits.callMeMaybeInterval)
            relayedDisco = TokenBucket(burst: limits.perSourceBurst, every: limits.perSourceInterval)
            credit = ResponseCredit(cap: limits.creditCap)
            path.setCandidates(info.endpoints)
        }
    }

    public let discoKey: PrivateKey
    /// Our disco public key, derived once (each derivation is an X25519).
    public let discoPublicKey: PublicKey
    public let nodeKey: PublicKey
    private let timings: PathTimings
    private let limits: DiscoLimits
    private let keyAgreement: KeyAgreement
    private let sendUDP: @Sendable ([UInt8], UDPAddress) -> Void
    /// Relayed sends take the datagram in place: the relay client copies it once into its
    /// pending batch, and nothing on the way allocates.
    private let sendRelay: @Sendable (PublicKey, UnsafeRawBufferPointer) -> Bool
    private let relayUp: @Sendable () -> Bool
    /// For status snapshots, taken outside the data path (everything else is handed `now`).
    private let clock: @Sendable () -> MonotonicTime
    private let lock = Lock()
    private var byPeer: [ObjectIdentifier: PeerState] = [:]
    /// The same peers in netmap order: timers and status walk them in an order that does not
    /// depend on hashing, so equal inputs give equal outputs.
    private var inOrder: [PeerState] = []
    private var byDisco: [PublicKey: PeerState] = [:]
    private var byNode: [PublicKey: PeerState] = [:]
    private var ownEndpoints: [UDPAddress] = []
    /// Guarded by `lock`, like the path state it feeds.
    private var entropy: any EntropySource
    private var sources: SourceRateLimiter
    private var drops = DiscoDropCounters()
    private var keyComputations = 0
    /// Non-disco, non-WireGuard traffic (STUN answers) goes here. Guarded by `lock`: the node
    /// sets it while the receive thread may already be running.
    public var onSTUN: (@Sendable ([UInt8], UDPAddress) -> Void)? {
        get { lock.withLock { stunHandler } }
        set { lock.withLock { stunHandler = newValue } }
    }
    private var stunHandler: (@Sendable ([UInt8], UDPAddress) -> Void)?
    /// Told when a peer's direct path becomes trusted (its first Pong, or the first after the
    /// path was lost), outside the lock: the node has the device retry a handshake that may have
    /// been sent before there was anywhere to send it. Guarded by `lock` like `onSTUN`.
    public var onDirectPathConfirmed: (@Sendable (Peer) -> Void)? {
        get { lock.withLock { pathConfirmedHandler } }
        set { lock.withLock { pathConfirmedHandler = newValue } }
    }
    private var pathConfirmedHandler: (@Sendable (Peer) -> Void)?
    /// `meshctl ping`'s Pings and who waits for each request's first Pong (guarded by `lock`).
    private var onDemand = OnDemandPings()
    private var onDemandWaiters: [UInt64: @Sendable (OnDemandPings.Answer) -> Void] = [:]

    /// With relayed datagrams handed over as arrays (tests; not the data path).
    public convenience init(discoKey: PrivateKey, nodeKey: PublicKey, timings: PathTimings = .standard,
                            limits: DiscoLimits = .standard,
                            sendUDP: @escaping @Sendable ([UInt8], UDPAddress) -> Void,
                            sendRelay: @escaping @Sendable (PublicKey, [UInt8]) -> Void,
                            relayUp: @escaping @Sendable () -> Bool = { true },
                            keyAgreement: @escaping KeyAgreement = { Box.SharedKey(peer: $0, own: $1) },
                            entropy: any EntropySource = SystemEntropy(),
                            clock: @escaping @Sendable () -> MonotonicTime = SystemClock.now) {
        self.init(discoKey: discoKey, nodeKey: nodeKey, timings: timings, limits: limits, sendUDP: sendUDP,
                  sendRelayDatagram: { sendRelay($0, Array($1)); return true }, relayUp: relayUp,
                  keyAgreement: keyAgreement, entropy: entropy, clock: clock)
    }

    public init(discoKey: PrivateKey, nodeKey: PublicKey, timings: PathTimings = .standard,
                limits: DiscoLimits = .standard,
                sendUDP: @escaping @Sendable ([UInt8], UDPAddress) -> Void,
                sendRelayDatagram sendRelay: @escaping @Sendable (PublicKey, UnsafeRawBufferPointer) -> Bool,
                relayUp: @escaping @Sendable () -> Bool = { true },
                keyAgreement: @escaping KeyAgreement = { Box.SharedKey(peer: $0, own: $1) },
                entropy: any EntropySource = SystemEntropy(),
                clock: @escaping @Sendable () -> MonotonicTime = SystemClock.now) {
        self.discoKey = discoKey
        discoPublicKey = discoKey.publicKey
        self.nodeKey = nodeKey
        self.timings = timings
        self.limits = limits
        self.keyAgreement = keyAgreement
        self.sendUDP = sendUDP
        self.sendRelay = sendRelay
        self.relayUp = relayUp
        self.clock = clock
        var entropy = entropy
        var seed: UInt64 = 0
        withUnsafeMutableBytes(of: &seed) { entropy.fill($0) }
        self.entropy = entropy
        sources = SourceRateLimiter(slots: limits.sourceSlots, burst: limits.perSourceBurst,
                                    every: limits.perSourceInterval, seed: seed)
    }

    // MARK: Netmap

    /// Replaces the peer set; paths of peers that stay keep their state, and a peer's shared
    /// key is derived again only when its disco key changed.
    public func setPeers(_ peers: [PeerInfo]) {
        lock.lock(); defer { lock.unlock() }
        var next: [ObjectIdentifier: PeerState] = [:]
        for info in peers {
            let id = ObjectIdentifier(info.wireGuardPeer)
            let state = byPeer[id] ?? PeerState(info: info, timings: timings, limits: limits)
            state.info = info
            state.path.setCandidates(info.endpoints)
            if state.sharedFor != info.discoKey {
                state.shared = keyAgreement(info.discoKey, discoKey)
                state.sharedFor = info.discoKey
                keyComputations += 1
            }
            next[id] = state
        }
        byPeer = next
        var listed = Set<ObjectIdentifier>()
        inOrder = peers.compactMap { info in
            let id = ObjectIdentifier(info.wireGuardPeer)
            return listed.insert(id).inserted ? next[id] : nil
        }
        byDisco = Dictionary(next.values.map { ($0.info.discoKey, $0) }, uniquingKeysWith: { a, _ in a })
        byNode = Dictionary(next.values.map { ($0.info.nodeKey, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Our own candidate endpoints, sent to peers in CallMeMaybe (at most the cap a peer keeps).
    public func setOwnEndpoints(_ endpoints: [UDPAddress]) {
        lock.lock(); ownEndpoints = Array(endpoints.prefix(PeerPath.maxCandidates)); lock.unlock()
    }

    public func pathStatus() -> [PathStatus] {
        lock.lock(); defer { lock.unlock() }
        let now = clock()
        return inOrder.map { s in
            let trusted = s.path.isTrusted(now: now)
            let idle = s.lastData.map { now - $0 >= timings.sessionActiveTimeout } ?? true
            return PathStatus(nodeKey: s.info.nodeKey, direct: s.path.best, latency: s.path.bestLatency,
                              trusted: trusted, relay: !trusted, published: s.info.endpoints,
                              pingsSent: s.pingsSent, pongsReceived: s.pongsReceived, idle: idle)
        }
    }

    /// Disco datagrams dropped so far, all reasons.
    public var discoDropped: Int { lock.lock(); defer { lock.unlock() }; return Int(clamping: drops.total) }

    /// Drops by reason (every reason present, zeros included).
    public var discoDrops: DiscoDropCounters { lock.lock(); defer { lock.unlock() }; return drops }

    /// Drops by reason name, as `meshctl status --json` shows them under `discoDrops`.
    public var discoDropsByReason: [String: Int] { discoDrops.byName }

    /// How many shared keys (X25519 operations) disco has derived for peers since start.
    public var sharedKeyComputations: Int { lock.lock(); defer { lock.unlock() }; return keyComputations }

    /// Candidate addresses currently kept for the peer with this node key (for tests and status).
    public func candidates(ofNode key: PublicKey) -> [UDPAddress] {
        lock.lock(); defer { lock.unlock() }
        return byNode[key]?.path.candidates ?? []
    }

    // MARK: OverlaySteering

    public func steer(peer: Peer, endpoint: UDPAddress?, now: MonotonicTime) -> SteeringDecision {
        lock.lock(); defer { lock.unlock() }
        guard let state = byPeer[ObjectIdentifier(peer)] else {
            // Not (or no longer) in the netmap: only a configured endpoint, never the relay.
            return endpoint.map(SteeringDecision.direct) ?? .drop
        }
        let route = state.path.route(now: now)
        state.lastData = now
        switch (route.direct, route.relay) {
        case (let d?, false): return .direct(d)
        case (let d?, true): return .both(d)
        default: return .relay
        }
    }

    @discardableResult
    public func sendViaRelay(_ datagram: UnsafeRawBufferPointer, to peer: Peer) -> Bool {
        lock.lock()
        let key = byPeer[ObjectIdentifier(peer)]?.info.nodeKey
        lock.unlock()
        guard let key else { return false }
        return sendRelay(key, datagram)
    }

    public func receive(_ datagram: UnsafeRawBufferPointer, kind: DatagramKind, from source: UDPAddress, now: MonotonicTime) {
        switch kind {
        case .disco: handleDisco(datagram, from: source, relayedBy: nil, now: now)
        case .stun: onSTUN?(Array(datagram), source)
        default: break
        }
    }

    public func noteReceived(from peer: Peer, source: UDPAddress?, now: MonotonicTime) {
        lock.lock()
        if let state = byPeer[ObjectIdentifier(peer)] {
            state.path.noteReceived(now: now)
            state.lastData = now
        }
        lock.unlock()
    }

    /// Something the relay delivered from `nodeKey`: disco is handled here. True when it is a
    /// WireGuard datagram, which the data plane decapsulates as one without a source address
    /// (the device finds its peer by receiver index, and the reply goes back by peer).
    public func receiveFromRelay(_ packet: UnsafeRawBufferPointer, from nodeKey: PublicKey, now: MonotonicTime) -> Bool {
        if DiscoPacket.looksLikeDisco(packet) {
            handleDisco(packet, from: nil, relayedBy: nodeKey, now: now)
            return false
        }
        return true
    }

    @discardableResult
    public func receiveFromRelay(_ packet: [UInt8], from nodeKey: PublicKey, now: MonotonicTime) -> Bool {
        packet.withUnsafeBytes { receiveFromRelay($0, from: nodeKey, now: now) }
    }

    // MARK: Disco

    /// A disco message ready to seal: its nonce is drawn under the lock (the entropy source is
    /// guarded by it), the sealing happens after the lock is released.
    private struct Outgoing {
        var message: DiscoMessage
        /// Nil: through the relay.
        var destination: UDPAddress?
        var nonce: [UInt8]
    }

    /// Called under the lock.
    private func outgoing(_ message: DiscoMessage, to destination: UDPAddress?) -> Outgoing {
        var nonce = [UInt8](repeating: 0, count: Box.nonceLength)
        nonce.withUnsafeMutableBytes { entropy.fill($0) }
        return Outgoing(message: message, destination: destination, nonce: nonce)
    }

    /// `source` is nil exactly when the message came through the relay (`relayedBy` is then
    /// the node the relay says sent it).
    private func handleDisco(_ d: UnsafeRawBufferPointer, from source: UDPAddress?, relayedBy: PublicKey?, now: MonotonicTime) {
        lock.lock()
        // Everything up to the shared-key lookup is a few comparisons and one hash: a flood
        // from strangers costs no public-key work, no copy, no allocation, no log line.
        guard let sender = DiscoPacket.senderKey(in: d) else { return drop(.malformed) }
        guard let state = byDisco[sender] else { return drop(.unknownSender) }
        if let relayedBy, relayedBy != state.info.nodeKey { return drop(.wrongPeer) }
        if let source {
            guard sources.take(source, now: now) else { return drop(.rateLimited) }
        } else {
            guard state.relayedDisco.take(now: now) else { return drop(.rateLimited) }
        }
        guard let shared = state.shared else { return drop(.badSeal) }
        let message: DiscoMessage
        do {
            message = try DiscoPacket.open(d, shared: shared)
        } catch {
            return drop(error == .cannotOpen ? .badSeal : .malformed)
        }
        // Authentic: what it carried pays for what we send because of it.
        state.credit.earn(d.count)
        var out: [Outgoing] = []
        var confirmed: Peer?
        var onDemandAnswered: (() -> Void)?
        switch message {
        case .ping(let txid, let senderNodeKey, _):
            guard senderNodeKey == state.info.nodeKey else { return drop(.wrongPeer) }
            guard state.pongs.take(now: now), state.credit.spend(DiscoLimits.pongLength) else { return drop(.rateLimited) }
            // The Pong goes back where the Ping came from, never elsewhere, and is smaller. A
            // relayed Ping was seen from no address: its Pong says so with the unspecified one.
            out.append(outgoing(.pong(txid: txid, source: source ?? .unspecified), to: source))
            if let source {
                let paid = state.credit.balance >= DiscoLimits.plainPingLength
                out += outgoing(state.path.handlePing(from: source, now: now, pingBack: paid, entropy: &entropy),
                                state, padded: false, alwaysCharged: true)
            }
        case .pong(let txid, _):
            if let answer = onDemand.answer(txid, from: source, peer: state.info.nodeKey, now: now),
               let waiter = onDemandWaiters.removeValue(forKey: answer.request) {
                onDemandAnswered = { waiter(answer) }
            }
            if let source {
                let wasTrusted = state.path.isTrusted(now: now)
                if state.path.handlePong(txid: txid, from: source, now: now) { state.pongsReceived &+= 1 }
                if !wasTrusted && state.path.isTrusted(now: now) { confirmed = state.info.wireGuardPeer }
            }
        case .callMeMaybe(let endpoints):
            guard state.callMeMaybes.take(now: now) else { return drop(.rateLimited) }
            let refusedBefore = state.path.candidatesRefused
            out += outgoing(state.path.handleCallMeMaybe(endpoints, now: now, entropy: &entropy), state,
                            padded: false, alwaysCharged: false)
            if state.path.candidatesRefused != refusedBefore { drops.count(.tooManyCandidates) }
        }
        let peerNode = state.info.nodeKey
        let whenConfirmed = confirmed == nil ? nil : pathConfirmedHandler
        lock.unlock()
        send(out, shared: shared, peerNode: peerNode)
        if let confirmed, let whenConfirmed { whenConfirmed(confirmed) }
        onDemandAnswered?()
    }

    // MARK: Pings on request (`meshctl ping`)

    /// How a request for Pings to a peer went.
    public enum OnDemandPingStart: Equatable, Sendable {
        /// Sent; the waiter hears the first Pong, unless `cancelPing(request)` comes first.
        case started(request: UInt64, direct: [UDPAddress], relay: Bool)
        case unknownPeer
        /// No direct candidate the netmap vouches for and no relay connection.
        case noPath
        /// `OnDemandPings.maxRequests` requests are already waiting.
        case busy
    }

    /// Sends disco Pings to the peer now: to its confirmed direct path alone when it has one,
    /// else to up to three candidates the netmap or an earlier Pong vouches for and through the
    /// relay. The session counts as active, so the path machine runs a discovery round too
    /// (which is how `meshctl ping --until-direct` turns a relayed path into a direct one).
    /// `answered` is called at most once, off the lock, from the thread that received the Pong.
    public func pingNow(peer nodeKey: PublicKey, now: MonotonicTime,
                       answered: @escaping @Sendable (OnDemandPings.Answer) -> Void) -> OnDemandPingStart {
        let relay = relayUp()
        lock.lock()
        guard let state = byNode[nodeKey], let shared = state.shared else { lock.unlock(); return .unknownPeer }
        var targets: [UDPAddress?] = []
        if state.path.isTrusted(now: now), let best = state.path.best {
            targets = [best]
        } else {
            targets = state.path.candidates.filter { state.path.isVouched($0) }.prefix(3).map { Optional($0) }
            if relay { targets.append(nil) }
        }
        guard !targets.isEmpty else { lock.unlock(); return .noPath }
        guard let started = onDemand.start(peer: nodeKey, targets: targets, now: now, entropy: &entropy) else {
            lock.unlock()
            return .busy
        }
        _ = state.path.route(now: now)
        onDemandWaiters[started.request] = answered
        let out = started.pings.map { outgoing(.ping(txid: $0.0, nodeKey: self.nodeKey, padding: 0), to: $0.1) }
        let peerNode = state.info.nodeKey
        lock.unlock()
        send(out, shared: shared, peerNode: peerNode)
        return .started(request: started.request, direct: targets.compactMap { $0 }, relay: targets.contains { $0 == nil })
    }

    /// Stops waiting for a request's Pong (its timeout passed); a late Pong is then ignored.
    public func cancelPing(_ request: UInt64) {
        lock.withLock {
            onDemand.cancel(request)
            onDemandWaiters[request] = nil
        }
    }

    /// Counts a drop and releases the lock `handleDisco` holds.
    private func drop(_ reason: DiscoDropReason) {
        drops.count(reason)
        lock.unlock()
    }

    /// Runs every peer's path timers; call every 100–250 ms.
    public func tick(now: MonotonicTime) {
        lock.lock()
        var work: [([Outgoing], Box.SharedKey, PublicKey)] = []
        for state in inOrder {
            let a = outgoing(state.path.poll(now: now, entropy: &entropy), state, padded: true, alwaysCharged: false)
            if !a.isEmpty, let shared = state.shared { work.append((a, shared, state.info.nodeKey)) }
        }
        lock.unlock()
        for (out, shared, node) in work { send(out, shared: shared, peerNode: node) }
    }

    /// Turns path actions into disco messages (called under the lock). Pings that look for a
    /// new path are `padded`, which gives the peer the credit to ping back; Pings to the best
    /// path, Pings back and hole-punching Pings are not. A Ping to an address the peer alone
    /// named (or any Ping that answers one, `alwaysCharged`) is sent only if the peer's credit
    /// pays for it; unpaid ones stay unsent and time out as misses, which prunes the address.
    private func outgoing(_ list: [PeerPath.Action], _ state: PeerState, padded: Bool, alwaysCharged: Bool) -> [Outgoing] {
        var out: [Outgoing] = []
        out.reserveCapacity(list.count)
        for action in list {
            switch action {
            case .ping(let addr, let txid):
                let padding = padded && addr != state.path.best ? DiscoLimits.pingBackPadding : 0
                let message = DiscoMessage.ping(txid: txid, nodeKey: nodeKey, padding: padding)
                if alwaysCharged || !state.path.isVouched(addr) {
                    guard state.credit.spend(DiscoPacket.sealedLength(of: message)) else { continue }
                }
                state.pingsSent &+= 1
                out.append(outgoing(message, to: addr))
            case .callMeMaybe:
                out.append(outgoing(.callMeMaybe(endpoints: ownEndpoints), to: nil))
            }
        }
        return out
    }

    private func send(_ out: [Outgoing], shared: Box.SharedKey, peerNode: PublicKey) {
        for item in out {
            let packet = DiscoPacket.seal(item.message, sender: discoPublicKey, shared: shared, nonce: item.nonce)
            if let destination = item.destination {
                sendUDP(packet, destination)
            } else if relayUp() {
                _ = packet.withUnsafeBytes { sendRelay(peerNode, $0) }
            }
        }
    }
}
