import MeshBase
import Netcheck

/// What a finished STUN probe means for the node: how far each relay is (its home-relay choice)
/// and which endpoints to publish. Pure, so the choice can be tested without sockets.
public struct ProbeOutcome: Equatable, Sendable {
    /// Round-trip milliseconds per relay id: the best of that relay's STUN servers.
    public var relayLatencyMillis: [String: Int]
    /// Local endpoints with the STUN-mapped public endpoints (one per family) first.
    public var endpoints: [String]
    /// Some probed server did not answer: it may have moved, so its name is resolved again.
    public var anyUnanswered: Bool

    /// - Parameter relayOfServer: which relay each probed STUN address belongs to; answers from
    ///   addresses not in it count for no relay.
    public init(report: NetcheckReport, relayOfServer: [UDPAddress: String], localEndpoints: [String]) {
        var perRelay: [String: Int] = [:]
        for (server, rtt) in report.latency {
            guard let id = relayOfServer[server] else { continue }
            let ms = Int(clamping: rtt.components.seconds) &* 1000 &+ Int(rtt.components.attoseconds / 1_000_000_000_000_000)
            perRelay[id] = min(perRelay[id] ?? .max, ms)
        }
        relayLatencyMillis = perRelay
        anyUnanswered = relayOfServer.keys.contains { report.latency[$0] == nil }
        endpoints = Self.publishable(local: localEndpoints, public: report.publicEndpoints)
    }

    /// The endpoints a node publishes: the public ones (if known, IPv4 first) first, then the
    /// LAN ones, once each. A global IPv6 address is its own public endpoint (no NAT66), so it
    /// is often both; it is listed once, among the public ones.
    public static func publishable(local: [String], public endpoints: [UDPAddress]) -> [String] {
        var out: [String] = []
        for e in endpoints.map(\.description) + local where !out.contains(e) { out.append(e) }
        return out
    }
}
