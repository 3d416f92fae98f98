import MeshBase

/// What a node learned about its network from STUN: the facts `meshctl netcheck` prints and
/// the public endpoint the node publishes as a candidate.
public struct NetcheckReport: Equatable, Sendable {
    /// Some STUN server answered at all: UDP leaves this network.
    public var udp: Bool
    /// Our address as each STUN server saw it.
    public var mapped: [UDPAddress: UDPAddress]
    /// Round-trip time to each STUN server that answered.
    public var latency: [UDPAddress: Duration]
    /// Whether the NAT gives a different public port per destination (a "hard", symmetric NAT)
    /// in some address family, nil when no family had two servers answer.
    public var mappingVariesByDestination: Bool?
    /// Whether an answer from a port we never sent to got through (the server's change-port reply):
    /// true means the NAT does not filter by port; nil when that was not tested.
    public var receivesFromUnsolicitedPort: Bool?

    public init(udp: Bool, mapped: [UDPAddress: UDPAddress], latency: [UDPAddress: Duration],
                mappingVariesByDestination: Bool? = nil, receivesFromUnsolicitedPort: Bool? = nil) {
        self.udp = udp
        self.mapped = mapped
        self.latency = latency
        self.mappingVariesByDestination = mappingVariesByDestination
        self.receivesFromUnsolicitedPort = receivesFromUnsolicitedPort
    }

    /// The endpoints peers should try, IPv4 first: per address family, the mapping when every
    /// server of that family saw the same one. Families are apart because a dual-stack node
    /// has one public address per family (NAT44 mapping, and its own global IPv6 address).
    public var publicEndpoints: [UDPAddress] {
        [true, false].compactMap { v4 in
            let distinct = Set(mapped.filter { $0.key.isIPv4 == v4 }.values)
            return distinct.count == 1 ? distinct.first : nil
        }
    }

    /// Per family with two or more answers: did the servers see different mappings?
    public static func mappingVaries(_ mapped: [UDPAddress: UDPAddress]) -> Bool? {
        let verdicts = [true, false].compactMap { v4 -> Bool? in
            let seen = mapped.filter { $0.key.isIPv4 == v4 }.map(\.value)
            return seen.count >= 2 ? Set(seen).count > 1 : nil
        }
        return verdicts.isEmpty ? nil : verdicts.contains(true)
    }
}
