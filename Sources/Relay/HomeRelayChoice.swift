/// Which relay a node calls home, and which relay carries a packet to a peer (DERP's home
/// region rule, docs/architecture.md "Relays"). A node holds a connection to every relay in
/// the coordinator's list; peers learn each other's home from the netmap and send there, so a
/// relayed packet always crosses exactly one relay.
public enum HomeRelayChoice {
    /// A relay that answers STUN this much faster than the current home replaces it; a
    /// smaller gain is not worth the churn (every change is published to every peer).
    public static let switchGainPercent = 33

    /// The home relay: with no STUN latency known, the first connected relay in the
    /// coordinator's order; otherwise the current one while it stays connected and is not
    /// clearly slower than the best (or was not measured), else the fastest connected one.
    /// nil when none is connected.
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
            // Nothing measured (STUN blocked, or not probed yet): the coordinator's order decides,
            // so every node that can reach the first relay makes it home.
            guard let best else { return candidates[0] }
            guard let mine = latencyMillis[current] else { return current }
            // best < mine * (100 - gain) / 100, without overflow for any latency.
            let threshold = mine / 100 * (100 - switchGainPercent) + mine % 100 * (100 - switchGainPercent) / 100
            return best.1 < threshold ? best.0 : current
        }
        return best?.0 ?? candidates[0]
    }

    /// The relay to send a packet for a peer through: the peer's home when we are connected
    /// to it, else our own home (the peer is connected there too unless it is down), else the
    /// first connected relay. nil: no relay is connected.
    /// Runs per relayed packet, so it takes a predicate rather than a set to build.
    public static func route(peerHome: String?, home: String?, order: [String],
                             isConnected: (String) -> Bool) -> String? {
        if let peerHome, isConnected(peerHome) { return peerHome }
        if let home, isConnected(home) { return home }
        return order.first(where: isConnected)
    }
}
