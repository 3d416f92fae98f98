/// The receiving node's packet filter as the netmap carries it (issue 11): what the coordinator
/// compiled from its policy for this node alone. Text forms (CIDR prefixes, addresses, port
/// ranges) keep the JSON readable and the node re-parses every field, refusing the whole filter
/// if one is malformed; bounds below keep a hostile or broken coordinator from making a node
/// build an unbounded rule set.
public struct PacketFilterMessage: Codable, Sendable, Equatable, Hashable {
    // The bounds a node holds a filter to (a filter over any of them is refused as a whole,
    // before any text is parsed). Where the form of the coordinator's output fixes a maximum
    // (Policy.compile and Policy.merge in MeshPolicy, then HubPolicy.message), the bound is
    // that maximum, so no filter a correct coordinator sends is refused and nothing more is
    // accepted. Sources and rules grow with the policy and the mesh instead; their bounds are
    // the node's own limits, and a policy that compiles past them is refused by the node (it
    // keeps the filter it had).

    /// Rules a node accepts at most. The compiler makes one rule per distinct (protocols,
    /// ports, destinations) among the policy's `dst` entries that reach this node, so a 1 MiB
    /// policy (the coordinator's HuJSON limit; `"*:1",` is 6 bytes) could make about 174,000;
    /// but every new flow scans the rules (about 5 ns a rule in Benchmarks/PacketFilterCost),
    /// and 10,000 rules already cost some 50 µs per new flow, which a peer can make at will.
    public static let maxRules = 10_000
    /// Source prefixes per rule at most. The compiler's sources are the fewest prefixes of the
    /// union of the source nodes' addresses (two per node) and the policy's literal prefixes,
    /// which is at most their number; 65,536 holds a rule from 32,768 nodes whose addresses
    /// are all apart (lookups are a binary search, so only memory grows with it).
    public static let maxSourcesPerRule = 65_536
    /// Destinations per rule at most: the compiler's destinations are the target node's own
    /// overlay addresses (`nodes[t].addresses`, also for autogroup:self), one IPv4 and one IPv6.
    public static let maxDestinationsPerRule = 2
    /// Protocol numbers per rule at most: `IPProtocolSet.members`, distinct values of a byte.
    public static let maxProtocolsPerRule = 256
    /// Port ranges per rule at most: the compiler sends `PortRange.normalized` lists (sorted,
    /// overlapping and adjacent ranges merged), so at most every other port of 0-65535.
    public static let maxPortRangesPerRule = 32_768

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
    public var isWithinBounds: Bool { boundsProblem == nil }

    /// The first bound the filter exceeds, as one sentence naming the rule (1-based), or nil.
    public var boundsProblem: String? {
        guard rules.count <= Self.maxRules else { return "more than \(Self.maxRules) rules (\(rules.count))" }
        for (index, rule) in rules.enumerated() {
            let n = index + 1
            if rule.sources.count > Self.maxSourcesPerRule {
                return "rule \(n): more than \(Self.maxSourcesPerRule) sources (\(rule.sources.count))"
            }
            if rule.destinations.count > Self.maxDestinationsPerRule {
                return "rule \(n): more than \(Self.maxDestinationsPerRule) destinations (\(rule.destinations.count))"
            }
            if rule.protocols.count > Self.maxProtocolsPerRule {
                return "rule \(n): more than \(Self.maxProtocolsPerRule) protocols (\(rule.protocols.count))"
            }
            if rule.ports.count > Self.maxPortRangesPerRule {
                return "rule \(n): more than \(Self.maxPortRangesPerRule) port ranges (\(rule.ports.count))"
            }
        }
        return nil
    }
}
