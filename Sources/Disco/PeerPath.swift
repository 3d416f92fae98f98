import MeshCrypto
import WireGuard

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

    public let timings: PathTimings
    public private(set) var candidates: [UDPAddress] = []
    public private(set) var best: UDPAddress?
    public private(set) var bestLatency: Duration?
    private var lastPongFromBest: MonotonicTime?
    /// The oldest Ping to `best` still waiting for its Pong: a path is dead only when it stops answering.
    private var unansweredPingToBest: MonotonicTime?
    private var pending: [DiscoTransactionID: PendingPing] = [:]
    private var lastPingTo: [UDPAddress: MonotonicTime] = [:]
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

    /// The peer's endpoints from the netmap; peer-reflexive ones learned from Pings are kept.
    public mutating func setCandidates(_ endpoints: [UDPAddress]) {
        for e in endpoints where !candidates.contains(e) { candidates.append(e) }
        candidates.removeAll { !endpoints.contains($0) && $0 != best && lastPingTo[$0] == nil }
    }

    /// Is the direct path confirmed? Either by a Pong within the trust window, or, for an idle
    /// session, by the idle keepalive whose every Ping was answered: the path was fine at the last
    /// probe, so the first packet after a quiet spell goes direct at once (the heartbeat that
    /// packet restarts re-confirms it within a round trip, or the path is dropped).
    public func isTrusted(now: MonotonicTime) -> Bool {
        guard best != nil, let t = lastPongFromBest else { return false }
        if let u = unansweredPingToBest, now - u >= timings.pongOverdue { return false }
        if now - t < timings.trustDuration { return true }
        return unansweredPingToBest == nil && now - t < timings.idleKeepaliveInterval + timings.trustDuration
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
        if !candidates.contains(source) { candidates.append(source) }
        if source == best {
            bestLatency = latency
            lastPongFromBest = now
            lastHeard = now
            unansweredPingToBest = nil
        } else if best == nil || !isTrusted(now: now) || Self.isBetter(source, latency, than: best!, bestLatency) {
            best = source
            bestLatency = latency
            lastPongFromBest = now
            unansweredPingToBest = nil
        }
        return true
    }

    /// A Ping from the peer arrived from `source`: that address reaches the peer (peer-reflexive
    /// candidate), so ping it back at once unless we did very recently. The caller answers with a Pong.
    public mutating func handlePing(from source: UDPAddress, now: MonotonicTime,
                                    entropy: inout some EntropySource) -> [Action] {
        if !candidates.contains(source) { candidates.append(source) }
        lastActivity = lastActivity ?? now
        if let t = lastPingTo[source], now - t < .seconds(1) { return [] }
        return [ping(source, now: now, entropy: &entropy)]
    }

    /// The peer asks us to ping these endpoints now, so that both NATs open at the same time.
    public mutating func handleCallMeMaybe(_ endpoints: [UDPAddress], now: MonotonicTime,
                                           entropy: inout some EntropySource) -> [Action] {
        for e in endpoints where !candidates.contains(e) { candidates.append(e) }
        lastActivity = now
        return endpoints.map { ping($0, now: now, entropy: &entropy) }
    }

    /// Timers: heartbeat, discovery, upgrade search and idle keepalive. Call every few hundred ms.
    public mutating func poll(now: MonotonicTime, entropy: inout some EntropySource) -> [Action] {
        pending = pending.filter { now - $0.value.sentAt < timings.pingTimeout }
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
                } else if let best, lastPingTo[best].map({ now - $0 >= timings.heartbeatInterval }) ?? true {
                    actions.append(ping(best, now: now, entropy: &entropy))
                } else if let best, unansweredPingToBest == nil, let sent = lastSent, now - sent < .milliseconds(500),
                          now - (lastHeard ?? .init(nanoseconds: 0)) >= timings.pongOverdue,
                          lastPingTo[best].map({ now - $0 >= timings.pongOverdue }) ?? true {
                    // We keep sending but hear nothing back: probe the path now rather than at
                    // the next heartbeat (a NAT may have dropped its mapping).
                    actions.append(ping(best, now: now, entropy: &entropy))
                }
            }
        } else if let best, lastProbeSent.map({ now - $0 >= timings.idleKeepaliveInterval }) ?? true {
            actions.append(ping(best, now: now, entropy: &entropy))
        }
        return actions
    }

    // MARK: Internals

    private mutating func discover(now: MonotonicTime, entropy: inout some EntropySource) -> [Action] {
        lastDiscovery = now
        var actions = candidates.map { ping($0, now: now, entropy: &entropy) }
        actions.append(.callMeMaybe)
        return actions
    }

    private mutating func ping(_ endpoint: UDPAddress, now: MonotonicTime, entropy: inout some EntropySource) -> Action {
        let txid = DiscoTransactionID(using: &entropy)
        pending[txid] = PendingPing(endpoint: endpoint, sentAt: now)
        lastPingTo[endpoint] = now
        lastProbeSent = now
        if endpoint == best && unansweredPingToBest == nil { unansweredPingToBest = now }
        return .ping(endpoint, txid)
    }

    /// Path preference: a LAN address beats a public one unless it is much slower; otherwise
    /// lower latency wins, by a margin, so two near-equal paths do not flap.
    static func isBetter(_ a: UDPAddress, _ la: Duration, than b: UDPAddress, _ lb: Duration?) -> Bool {
        guard let lb else { return true }
        let scoreA = a.isPrivate ? la / 2 : la
        let scoreB = b.isPrivate ? lb / 2 : lb
        return scoreA * 10 < scoreB * 9
    }
}

extension UDPAddress {
    /// RFC 1918 / RFC 6598 shared / ULA / link-local: addresses that mean "same site".
    public var isPrivate: Bool {
        if isIPv4 {
            let a = ip[12], b = ip[13]
            return a == 10 || (a == 172 && (b & 0xF0) == 16) || (a == 192 && b == 168) || (a == 169 && b == 254)
        }
        return (ip[0] & 0xFE) == 0xFC || (ip[0] == 0xFE && (ip[1] & 0xC0) == 0x80)
    }
}
