import MeshBase

/// Which of two working direct paths to a peer carries its traffic. Pure: latencies are the
/// measured Ping/Pong round trips.
///
/// - Same address family: a same-site address (RFC 1918, ULA, link-local) beats a public one
///   unless it is more than twice as slow; otherwise lower latency wins by a 10% margin, so two
///   near-equal paths do not flap.
/// - IPv4 against IPv6: IPv6 wins when its latency is close, that is at most 30% + 1 ms above
///   the IPv4 path's (after the same-site halving). An IPv6 path needs no NAT mapping that
///   a NAT reboot or a conntrack timeout can take away, so it is the sturdier one at equal
///   speed; the 1 ms lets it win over LAN-fast links whose round trips are all noise. IPv4
///   takes over only when IPv6 is worse than that bound by the 10% margin as well.
public enum PathPreference {
    public static func isBetter(_ a: UDPAddress, _ la: Duration, than b: UDPAddress, _ lb: Duration?) -> Bool {
        guard let lb else { return true }
        let scoreA = a.isPrivate ? la / 2 : la
        let scoreB = b.isPrivate ? lb / 2 : lb
        if a.isIPv4 == b.isIPv4 { return scoreA * 10 < scoreB * 9 }
        if !a.isIPv4 { return scoreA <= closeBound(scoreB) }
        return scoreB * 10 > closeBound(scoreA) * 11
    }

    /// The highest IPv6 score still "close" to an IPv4 score.
    static func closeBound(_ v4: Duration) -> Duration { v4 * 13 / 10 + .milliseconds(1) }
}
