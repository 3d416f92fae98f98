import MeshCrypto
import MeshWire

/// Which relays a node uses, from what the coordinator lists. The coordinator is only the
/// default entry: a list naming other relays is used as it is.
public enum RelayDirectory {
    /// The STUN ports a coordinator that lists no relays serves itself.
    public static let coordinatorSTUNPorts: [Int] = [3478, 3479]

    /// A coordinator that lists no relays is itself the relay (at `<url>/relay`, STUN on its two
    /// default ports). An entry without a key at the coordinator's own host and port is the
    /// coordinator's relay, so it is pinned to the coordinator's key from the join token; any
    /// other entry keeps what the coordinator said.
    public static func effective(listed: [RelayInfo], coordinatorURL: String, coordinatorKey: PublicKey) -> [RelayInfo] {
        let base = coordinatorURL.hasSuffix("/") ? String(coordinatorURL.dropLast()) : coordinatorURL
        guard !listed.isEmpty else {
            return [RelayInfo(id: "default", name: "coordinator", url: base + "/relay", stunPorts: coordinatorSTUNPorts,
                              key: coordinatorKey.base64)]
        }
        let coordinator = RelayURL(base)
        return listed.map { r in
            var r = r
            if r.key == nil, let u = RelayURL(r.url), let c = coordinator, u.host == c.host, u.port == c.port {
                r.key = coordinatorKey.base64
            }
            return r
        }
    }
}
