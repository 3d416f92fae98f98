/// The receiving node's packet filter as the netmap carries it (issue 11): what the coordinator
/// compiled from its policy for this node alone. Text forms (CIDR prefixes, addresses, port
/// ranges) keep the JSON readable and the node re-parses every field, refusing the whole filter
/// if one is malformed; bounds below keep a hostile or broken coordinator from making a node
/// build an unbounded rule set.
public struct PacketFilterMessage: Codable, Sendable, Equatable, Hashable {
    /// Rules a node accepts at most (a netmap with more is refused as a whole).
    public static let maxRules = 10_000
    /// Prefixes, addresses or port ranges per rule at most.
    public static let maxItemsPerRule = 65_536

    /// One accept rule: packets from one of `sources` to one of `destinations` (this node's own
    /// overlay addresses) with one of `protocols` (IP protocol numbers) and, for TCP, UDP and
    /// SCTP, a destination port in one of `ports`.
    public struct Rule: Codable, Sendable, Equatable, Hashable {
        /// CIDR prefixes: "100.64.0.0/10", "fd7a:115c:a1e0::/48", "100.64.0.3/32".
        public var sources: [String]
        /// Addresses: "100.64.0.2", "fd7a:115c:a1e0::2".
        public var destinations: [String]
        public var protocols: [UInt8]
        public var ports: [PortRange]

        public init(sources: [String], destinations: [String], protocols: [UInt8], ports: [PortRange]) {
            self.sources = sources
            self.destinations = destinations
            self.protocols = protocols
            self.ports = ports
        }
    }

    /// Inclusive; `0...65535` is every port.
    public struct PortRange: Codable, Sendable, Equatable, Hashable {
        public var first: UInt16
        public var last: UInt16
        public init(first: UInt16, last: UInt16) {
            self.first = first
            self.last = last
        }
    }

    /// False: no policy is set at the coordinator, every peer may reach every port (the mesh's
    /// behaviour before policies). True: only `rules` are accepted, everything else is dropped.
    public var enforced: Bool
    public var rules: [Rule]
    /// Which policy version this was compiled from (for status and logs).
    public var policyVersion: Int64?

    public init(enforced: Bool, rules: [Rule], policyVersion: Int64? = nil) {
        self.enforced = enforced
        self.rules = rules
        self.policyVersion = policyVersion
    }

    public static let allowAll = PacketFilterMessage(enforced: false, rules: [])

    /// Within the bounds above (the node checks before it parses the text fields).
    public var isWithinBounds: Bool {
        rules.count <= Self.maxRules && rules.allSatisfy {
            $0.sources.count <= Self.maxItemsPerRule && $0.destinations.count <= Self.maxItemsPerRule
                && $0.protocols.count <= 256 && $0.ports.count <= Self.maxItemsPerRule
        }
    }
}
