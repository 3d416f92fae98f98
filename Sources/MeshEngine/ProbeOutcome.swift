import MeshBase
import Netcheck

/// What a finished STUN probe means for the node: how far each relay is (its home-relay choice)
/// and which endpoints to publish. Pure, so the choice can be tested without sockets.
public struct ProbeOutcome: Equatable, Sendable {
    /// Round-trip milliseconds per relay id: the best of that relay's STUN servers.
    public var relayLatencyMillis: [String: Int]
    /// Local endpoints with the STUN-mapped public endpoint first.
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
        endpoints = Self.publishable(local: localEndpoints, public: report.publicEndpoint)
    }

    /// The endpoints a node publishes: the public one (if known) first, then the LAN ones, once each.
    public static func publishable(local: [String], public endpoint: UDPAddress?) -> [String] {
        var out = local
        if let pub = endpoint?.description, !out.contains(pub) { out.insert(pub, at: 0) }
        return out
    }
}
