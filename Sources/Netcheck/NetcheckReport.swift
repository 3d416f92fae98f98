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
    /// Whether the NAT gives a different public port per destination (a "hard", symmetric NAT),
    /// nil when fewer than two servers answered.
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

    /// The endpoint peers should try: the mapping, when every server saw the same one.
    public var publicEndpoint: UDPAddress? {
        let distinct = Set(mapped.values)
        return distinct.count == 1 ? distinct.first : nil
    }
}
