import MeshBase
import MeshLocalAPI
import MeshStatus
import Netcheck

extension NetcheckAnswer {
    /// `meshctl netcheck`'s answer from the daemon's latest STUN round and its relays' state.
    /// - Parameter relayOfServer: which relay each probed STUN server belongs to, where known.
    public init(report: NetcheckReport?, relays: [NodeStatus.RelayStatus], relayOfServer: [UDPAddress: String] = [:]) {
        let servers = Set((report?.mapped.keys).map(Array.init) ?? []).union((report?.latency.keys).map(Array.init) ?? [])
        let ordered = servers.sorted { ($0.isIPv4 ? 0 : 1, $0.description) < ($1.isIPv4 ? 0 : 1, $1.description) }
        let publicEndpoints = report?.publicEndpoints ?? []
        self.init(
            udp: report?.udp ?? false,
            ipv4: publicEndpoints.first(where: \.isIPv4)?.description,
            ipv6: publicEndpoints.first(where: { !$0.isIPv4 })?.description,
            mappingVariesByDestination: report?.mappingVariesByDestination,
            receivesFromUnsolicitedPort: report?.receivesFromUnsolicitedPort,
            servers: ordered.map { s in
                Server(server: s.description, relay: relayOfServer[s], mapped: report?.mapped[s]?.description,
                       latencyMs: report?.latency[s].map(Self.milliseconds))
            },
            relays: relays.map { Relay(id: $0.id, latencyMs: $0.latencyMs, connected: $0.connected, home: $0.home) },
            preferredRelay: relays.first(where: \.home)?.id)
    }

    /// To 0.01 ms.
    static func milliseconds(_ d: Duration) -> Double {
        let ms = Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
        return (ms * 100).rounded() / 100
    }
}
