import MeshCrypto
import MeshBase

/// Where one peer's packets should go, and which disco probes to send to find out: the path
/// state machine of DESIGN.md section 5. Pure: the driver passes the time and random bytes in,
/// performs the returned actions, and feeds Pongs, Pings and CallMeMaybes back.
public struct PeerPath: Sendable {
    public enum Action: Equatable, Sendable {
        /// Send a disco Ping with this transaction id straight to the endpoint.
        case ping(UDPAddress, DiscoTransactionID)
        /// Send our own candidate endpoints to the peer through the relay.
        case callMeMaybe
    }

    /// Where a data packet goes now: the direct endpoint, the relay, or both while unconfirmed.
    public struct Route: Equatable, Sendable {
        public var direct: UDPAddress?
        public var relay: Bool
        public init(direct: UDPAddress?, relay: Bool) {
            self.direct = direct
            self.relay = relay
        }
    }

    struct PendingPing { var endpoint: UDPAddress; var sentAt: MonotonicTime }

    /// What we know of one address's answers: how many Pings in a row went unanswered, and
    /// until when it is not pinged (backoff, or a prune that a new CallMeMaybe cannot undo).
    struct Probe {
        var lastPing: MonotonicTime?
        var misses = 0
        var holdUntil: MonotonicTime?
        /// A Pong came back from it once: it is the peer's, not an address someone named.
        var answered = false
    }

    /// Candidates kept per peer, whatever their origin: every one costs a Ping per round.
    public static let maxCandidates = 16
    /// Peer-reflexive addresses kept (the newest): a replayed Ping from forged sources adds one each.
    public static let maxReflexive = 4
    /// Pings awaiting a Pong; beyond this no new Ping is sent until some answer or time out.
    public static let maxPending = 64
    /// Addresses remembered after leaving the candidate list (pruned ones on hold).
    public static let maxRemembered = 32

    public let timings: PathTimings
    /// The addresses pinged in a discovery round: the best path, the coordinator-published
    /// endpoints, peer-reflexive ones, then the latest CallMeMaybe's, at most `maxCandidates`.
    public private(set) var candidates: [UDPAddress] = []
    public private(set) var best: UDPAddress?
    public private(set) var bestLatency: Duration?
    /// Endpoints a CallMeMaybe offered beyond the cap (cumulative), for the drop counters.
    public private(set) var candidatesRefused: UInt64 = 0
    /// The netmap's endpoints for the peer: the coordinator's view, kept apart from what the
    /// peer itself claims, so a CallMeMaybe can never push them out.
    private var published: [UDPAddress] = []
    /// The latest CallMeMaybe's endpoints: each one replaces the one before.
    private var offered: [UDPAddress] = []
    /// Sources the peer's Pings came from, oldest first.
    private var reflexive: [UDPAddress] = []
    private var probes: [UDPAddress: Probe] = [:]
    private var lastPongFromBest: MonotonicTime?
    /// The oldest Ping to `best` still waiting for its Pong: a path is dead only when it stops answering.
    private var unansweredPingToBest: MonotonicTime?
    private var pending: [DiscoTransactionID: PendingPing] = [:]
    private var lastDiscovery: MonotonicTime?
    private var lastActivity: MonotonicTime?
    /// Last time anything authenticated came back from the peer (data, or a Pong on the best path).
    private var lastHeard: MonotonicTime?
    private var lastSent: MonotonicTime?
    private var lastProbeSent: MonotonicTime?
    /// Whether the last `poll` saw the path trusted: losing trust starts a discovery round at
    /// once (a CallMeMaybe makes the peer reopen its side, e.g. after a NAT lost its mappings).
    private var trustedAtLastPoll = false

    public init(timings: PathTimings = .standard) { self.timings = timings }

    // MARK: Inputs

    /// The peer's endpoints from the netmap. A newly published address starts with a clean
    /// record (the coordinator says it is current); the others keep their backoff.
    public mutating func setCandidates(_ endpoints: [UDPAddress]) {
        var next: [UDPAddress] = []
        for e in endpoints where e.isUsableCandidate && !next.contains(e) && next.count < Self.maxCandidates {
            next.append(e)
        }
        for e in next where !published.contains(e) { probes[e]?.misses = 0; probes[e]?.holdUntil = nil }
        published = next
        rebuildCandidates()
    }

    /// Is the direct path confirmed? Either by a Pong within the trust window, or, for an idle
    /// session, by the idle keepalive, none of whose Pings is overdue: the path was fine at the last
    /// probe, so the first packet after a quiet spell goes direct at once (the heartbeat that
    /// packet restarts re-confirms it within a round trip, or the path is dropped).
    public func isTrusted(now: MonotonicTime) -> Bool {
        guard best != nil, let t = lastPongFromBest else { return false }
        if let u = unansweredPingToBest, now - u >= timings.pongOverdue { return false }
        if now - t < timings.trustDuration { return true }
        // An idle keepalive still in flight (not yet overdue, checked above) is no sign of a
        // dead path: the packet that ends the quiet spell may well cross its Ping.
        return now - t < timings.idleKeepaliveInterval + timings.trustDuration
    }

    /// Route for a data packet; marks the session active. Cheap enough for every packet.
    public mutating func route(now: MonotonicTime) -> Route {
        lastActivity = now
        lastSent = now
        if isTrusted(now: now) { return Route(direct: best, relay: false) }
        return Route(direct: best, relay: true)
    }

    /// Traffic from the peer keeps the session active too.
    public mutating func noteReceived(now: MonotonicTime) {
        lastActivity = now
        lastHeard = now
    }

    /// A Pong: if it answers one of our Pings, it may give us a (better) direct path.
    @discardableResult
    public mutating func handlePong(txid: DiscoTransactionID, from source: UDPAddress, now: MonotonicTime) -> Bool {
        guard let ping = pending.removeValue(forKey: txid), ping.endpoint == source else { return false }
        let latency = now - ping.sentAt
        probes[source, default: Probe()].misses = 0
        probes[source]?.holdUntil = nil
        probes[source]?.answered = true
        if source == best {
            bestLatency = latency
            lastPongFromBest = now
            lastHeard = now
            unansweredPingToBest = nil
        } else if best == nil || !isTrusted(now: now) || PathPreference.isBetter(source, latency, than: best!, bestLatency) {
            best = source
            bestLatency = latency
            lastPongFromBest = now
            unansweredPingToBest = nil
        }
        // An address that answered is worth keeping even after the list that brought it is replaced.
        if !published.contains(source) && !reflexive.contains(source) { addReflexive(source) } else { rebuildCandidates() }
        return true
    }

    /// A Ping from the peer arrived from `source`: that address reaches the peer (peer-reflexive
    /// candidate), so ping it back at once unless we did very recently, or `pingBack` is false
    /// (the caller decides whether the Ping paid for an answer that large). The caller answers
    /// with a Pong either way.
    public mutating func handlePing(from source: UDPAddress, now: MonotonicTime, pingBack: Bool = true,
                                    entropy: inout some EntropySource) -> [Action] {
        guard source.isUsableCandidate else { return [] }
        // The peer just reached us from there, so a hold on it is stale.
        probes[source]?.misses = 0
        probes[source]?.holdUntil = nil
        if !candidates.contains(source) { addReflexive(source) }
        lastActivity = lastActivity ?? now
        guard pingBack else { return [] }
        if let t = probes[source]?.lastPing, now - t < .seconds(1) { return [] }
        return ping(source, now: now, entropy: &entropy).map { [$0] } ?? []
    }

    /// The peer asks us to ping these endpoints now, so that both NATs open at the same time.
    /// The list replaces the previous CallMeMaybe's, fits in what the cap leaves after the
    /// published and reflexive candidates, and skips addresses on hold (pruned or backed off).
    public mutating func handleCallMeMaybe(_ endpoints: [UDPAddress], now: MonotonicTime,
                                           entropy: inout some EntropySource) -> [Action] {
        lastActivity = now
        let base = candidateBase()
        let room = max(0, Self.maxCandidates - base.count)
        var next: [UDPAddress] = []
        var refused: UInt64 = 0
        for e in endpoints where e.isUsableCandidate && !e.isLoopback && !next.contains(e) && !base.contains(e) {
            if next.count < room { next.append(e) } else { refused &+= 1 }
        }
        candidatesRefused &+= refused
        offered = next
        rebuildCandidates()
        var actions: [Action] = []
        for e in endpoints where candidates.contains(e) && isEligible(e, now: now) {
            if let t = probes[e]?.lastPing, now - t < .seconds(1) { continue }
            if actions.contains(where: { if case .ping(e, _) = $0 { return true } else { return false } }) { continue }
            if let a = ping(e, now: now, entropy: &entropy) { actions.append(a) }
        }
        return actions
    }

    /// Timers: heartbeat, discovery, upgrade search and idle keepalive. Call every few hundred ms.
    public mutating func poll(now: MonotonicTime, entropy: inout some EntropySource) -> [Action] {
        expirePending(now: now)
        // A best path that is no longer trusted and left a Ping unanswered for a whole ping
        // timeout is dead: fall back to the relay alone until discovery finds a path again.
        if best != nil, !isTrusted(now: now), let t = unansweredPingToBest, now - t >= timings.pingTimeout {
            best = nil
            bestLatency = nil
            lastPongFromBest = nil
            unansweredPingToBest = nil
        }
        var actions: [Action] = []
        let active = lastActivity.map { now - $0 < timings.sessionActiveTimeout } ?? false
        let discoveryDue = lastDiscovery.map { now - $0 >= timings.discoveryInterval } ?? true
        let trusted = isTrusted(now: now)
        defer { trustedAtLastPoll = trusted }
        if active {
            if !trusted {
                if discoveryDue || trustedAtLastPoll { actions += discover(now: now, entropy: &entropy) }
            } else {
                let wantsUpgrade = (bestLatency ?? .zero) > timings.goodEnoughLatency
                    && (lastDiscovery.map { now - $0 >= timings.upgradeInterval } ?? true)
                if wantsUpgrade {
                    actions += discover(now: now, entropy: &entropy)
                } else if let best, probes[best]?.lastPing.map({ now - $0 >= timings.heartbeatInterval }) ?? true {
                    if let a = ping(best, now: now, entropy: &entropy) { actions.append(a) }
                } else if let best, unansweredPingToBest == nil, let sent = lastSent, now - sent < .milliseconds(500),
                          now - (lastHeard ?? .init(nanoseconds: 0)) >= timings.pongOverdue,
                          probes[best]?.lastPing.map({ now - $0 >= timings.pongOverdue }) ?? true {
                    // We keep sending but hear nothing back: probe the path now rather than at
                    // the next heartbeat (a NAT may have dropped its mapping).
                    if let a = ping(best, now: now, entropy: &entropy) { actions.append(a) }
                }
            }
        } else if let best, lastProbeSent.map({ now - $0 >= timings.idleKeepaliveInterval }) ?? true {
            if let a = ping(best, now: now, entropy: &entropy) { actions.append(a) }
        }
        return actions
    }

    // MARK: Internals

    private mutating func discover(now: MonotonicTime, entropy: inout some EntropySource) -> [Action] {
        lastDiscovery = now
        var actions: [Action] = []
        for c in candidates where c == best || isEligible(c, now: now) {
            // Just pinged (say, for a CallMeMaybe): its answer is still on the way.
            if c != best, let t = probes[c]?.lastPing, now - t < .seconds(1) { continue }
            if let a = ping(c, now: now, entropy: &entropy) { actions.append(a) }
        }
        actions.append(.callMeMaybe)
        return actions
    }

    /// Nil when too many Pings are already waiting for an answer.
    private mutating func ping(_ endpoint: UDPAddress, now: MonotonicTime, entropy: inout some EntropySource) -> Action? {
        guard pending.count < Self.maxPending else { return nil }
        let txid = DiscoTransactionID(using: &entropy)
        pending[txid] = PendingPing(endpoint: endpoint, sentAt: now)
        probes[endpoint, default: Probe()].lastPing = now
        lastProbeSent = now
        if endpoint == best && unansweredPingToBest == nil { unansweredPingToBest = now }
        return .ping(endpoint, txid)
    }

    /// Whether a Ping to `a` needs no budget: the coordinator published it, or it answered
    /// before. Any other address was named by the peer alone (CallMeMaybe, a Ping's source),
    /// so the driver pays Pings to it from what the peer sent us.
    public func isVouched(_ a: UDPAddress) -> Bool {
        a == best || published.contains(a) || probes[a]?.answered == true
    }

    private func isEligible(_ a: UDPAddress, now: MonotonicTime) -> Bool {
        guard let hold = probes[a]?.holdUntil else { return true }
        return now >= hold
    }

    /// Pings that timed out count as misses; enough misses in a row prune a candidate the peer
    /// offered (CallMeMaybe, reflexive) and back off one the netmap publishes.
    private mutating func expirePending(now: MonotonicTime) {
        var expired: [UDPAddress] = []
        pending = pending.filter {
            if now - $0.value.sentAt < timings.pingTimeout { return true }
            expired.append($0.value.endpoint)
            return false
        }
        guard !expired.isEmpty else { return }
        var changed = false
        for a in expired {
            var p = probes[a, default: Probe()]
            p.misses = p.misses &+ 1
            if p.misses >= timings.missesBeforePrune {
                if published.contains(a) {
                    let doublings = min(p.misses - timings.missesBeforePrune, 16)
                    let backoff = min(timings.discoveryInterval * (1 << doublings), timings.backoffCap)
                    p.holdUntil = now + backoff
                } else {
                    p.holdUntil = now + timings.prunedHold
                    if a != best {
                        offered.removeAll { $0 == a }
                        reflexive.removeAll { $0 == a }
                        changed = true
                    }
                }
            }
            probes[a] = p
        }
        if changed { rebuildCandidates() }
    }

    /// Published and reflexive candidates (with the best path), before any CallMeMaybe's.
    private func candidateBase() -> [UDPAddress] {
        var out: [UDPAddress] = []
        if let best { out.append(best) }
        for e in published + reflexive where !out.contains(e) { out.append(e) }
        return out
    }

    private mutating func addReflexive(_ a: UDPAddress) {
        reflexive.removeAll { $0 == a }
        reflexive.append(a)
        while reflexive.count > Self.maxReflexive, let i = reflexive.firstIndex(where: { $0 != best }) {
            reflexive.remove(at: i)
        }
        rebuildCandidates()
    }

    /// Recomputes the capped candidate list and forgets what is known of addresses that left
    /// it, except the ones on hold (so a pruned address stays pruned), at most `maxRemembered`.
    private mutating func rebuildCandidates() {
        var out = candidateBase()
        for e in offered where !out.contains(e) { out.append(e) }
        if out.count > Self.maxCandidates { out.removeLast(out.count - Self.maxCandidates) }
        candidates = out
        let waiting = Set(pending.values.map(\.endpoint))
        var remembered: [(UDPAddress, MonotonicTime)] = []
        for (a, p) in probes where !out.contains(a) && !waiting.contains(a) {
            if let hold = p.holdUntil { remembered.append((a, hold)) } else { probes[a] = nil }
        }
        if remembered.count > Self.maxRemembered {
            remembered.sort { $0.1 < $1.1 }
            for (a, _) in remembered.prefix(remembered.count - Self.maxRemembered) { probes[a] = nil }
        }
    }

}

extension UDPAddress {
    /// Worth a Ping at all: not unspecified, broadcast, multicast, port 0, or in the
    /// discard-only prefix 100::/64 (RFC 6666). A peer-chosen list must not aim our Pings
    /// anywhere odd.
    public var isUsableCandidate: Bool {
        guard port != 0 else { return false }
        if isIPv4 {
            let a = ip[12]
            if a == 0 || a >= 224 { return false }  // "this network", multicast, reserved, broadcast
            return true
        }
        if ip == SIMD16<UInt8>() || ip[0] == 0xFF { return false }
        if ip[0] == 0x01 && (1..<8).allSatisfy({ ip[$0] == 0 }) { return false }
        return true
    }

    /// 127.0.0.0/8 and ::1: a CallMeMaybe may not make us ping services on our own host.
    public var isLoopback: Bool {
        if isIPv4 { return ip[12] == 127 }
        return (0..<15).allSatisfy({ ip[$0] == 0 }) && ip[15] == 1
    }

    /// RFC 1918 / RFC 6598 shared / ULA / link-local: addresses that mean "same site".
    public var isPrivate: Bool {
        if isIPv4 {
            let a = ip[12], b = ip[13]
            return a == 10 || (a == 172 && (b & 0xF0) == 16) || (a == 192 && b == 168) || (a == 169 && b == 254)
        }
        return (ip[0] & 0xFE) == 0xFC || (ip[0] == 0xFE && (ip[1] & 0xC0) == 0x80)
    }
}
