/// Which relay a node calls home, and which relay carries a packet to a peer (DERP's home
/// region rule, docs/architecture.md "Relays"). A node holds a connection to every relay in
/// the coordinator's list; peers learn each other's home from the netmap and send there, so a
/// relayed packet always crosses exactly one relay.
public enum HomeRelayChoice {
    /// A relay that answers STUN this much faster than the current home replaces it; a
    /// smaller gain is not worth the churn (every change is published to every peer).
    public static let switchGainPercent = 33

    /// The home relay: the current one while it stays connected and not clearly slower than
    /// the best; otherwise the connected relay with the lowest STUN latency, or (no latency
    /// known) the first connected one in the coordinator's order. nil when none is connected.
    /// - Parameters:
    ///   - order: relay ids in the coordinator's order (its own relay first).
    ///   - latencyMillis: STUN round trip per relay id, for relays that answered.
    public static func choose(order: [String], connected: Set<String>, latencyMillis: [String: Int],
                              current: String?) -> String? {
        let candidates = order.filter { connected.contains($0) }
        guard !candidates.isEmpty else { return nil }
        let measured = candidates.compactMap { id in latencyMillis[id].map { (id, $0) } }
        let best = measured.min { $0.1 < $1.1 }
        if let current, candidates.contains(current) {
            guard let best, let mine = latencyMillis[current] else { return current }
            // best < mine * (100 - gain) / 100, without overflow for any latency.
            let threshold = mine / 100 * (100 - switchGainPercent) + mine % 100 * (100 - switchGainPercent) / 100
            return best.1 < threshold ? best.0 : current
        }
        return best?.0 ?? candidates[0]
    }

    /// The relay to send a packet for a peer through: the peer's home when we are connected
    /// to it, else our own home (the peer is connected there too unless it is down), else the
    /// first connected relay. nil: no relay is connected.
    public static func route(peerHome: String?, home: String?, connected: Set<String>, order: [String]) -> String? {
        if let peerHome, connected.contains(peerHome) { return peerHome }
        if let home, connected.contains(home) { return home }
        return order.first { connected.contains($0) }
    }
}
