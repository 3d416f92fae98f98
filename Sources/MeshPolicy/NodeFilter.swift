import MeshBase

/// One rule as a node enforces it: packets from `sources` to one of `destinations` (the node's
/// own addresses) over one of `protocols`, to one of `ports` (ignored for protocols without
/// ports).
public struct FilterRule: Hashable, Sendable {
    public var sources: AddressSet
    public var destinations: [IPAddress]
    public var protocols: IPProtocolSet
    public var ports: [PortRange]

    public init(sources: AddressSet, destinations: [IPAddress], protocols: IPProtocolSet, ports: [PortRange]) {
        self.sources = sources
        self.destinations = destinations
        self.protocols = protocols
        self.ports = PortRange.normalized(ports)
    }

    /// From the netmap's form (source prefixes); the node rebuilds the interval set.
    public init(sourcePrefixes: [IPPrefix], destinations: [IPAddress], protocols: [UInt8], ports: [PortRange]) {
        self.init(sources: AddressSet(prefixes: sourcePrefixes), destinations: destinations,
                  protocols: IPProtocolSet(protocols), ports: ports)
    }

    @inline(__always)
    func allows(source: IPAddress, destination: IPAddress, proto: UInt8, port: UInt16) -> Bool {
        guard protocols.contains(proto) else { return false }
        guard destinations.contains(destination) else { return false }
        if IPProtocolNumber.hasPorts(proto), !ports.containsPort(port) { return false }
        return sources.contains(source)
    }
}

/// What the coordinator sends one node: the rules whose destination is that node, and the
/// peers it may talk to or that may talk to it (the only peers its netmap lists).
///
/// Plugging in: the coordinator keeps the last `PolicyCompilation`, recompiles on a change of
/// policy, tags, users or membership, and pushes the netmap only to `changedNodes`; the netmap
/// carries `rules` (sources as `sources.prefixes`) and filters its peer list by `visiblePeers`;
/// meshd hands `rules` to `PacketFilter.setRules`.
public struct NodeFilter: Hashable, Sendable {
    public var nodeID: Int64
    public var rules: [FilterRule]
    /// Sorted node ids. May hold the node itself (readers skip it): a node that every node may
    /// reach shares one list of all nodes with every other such node, so a policy such as
    /// `* -> autogroup:member` costs one list, not n lists of n ids.
    public var visiblePeers: [Int64]

    public init(nodeID: Int64, rules: [FilterRule], visiblePeers: [Int64]) {
        self.nodeID = nodeID
        self.rules = rules
        self.visiblePeers = visiblePeers
    }

    public func allows(source: IPAddress, destination: IPAddress, proto: UInt8, port: UInt16) -> Bool {
        rules.contains { $0.allows(source: source, destination: destination, proto: proto, port: port) }
    }
}

/// Every node's compiled filter for one policy and directory.
public struct PolicyCompilation: Hashable, Sendable {
    public var filters: [Int64: NodeFilter]

    public init(filters: [Int64: NodeFilter]) { self.filters = filters }

    /// Nodes whose filter differs between two compilations, or that exist in only one. This is
    /// a full recompile and a diff (O(size of both outputs)), not an incremental compile: the
    /// coordinator pushes only to these nodes, which is what the netmap fan-out needs.
    public static func changedNodes(from old: PolicyCompilation?, to new: PolicyCompilation?) -> Set<Int64> {
        let a = old?.filters ?? [:], b = new?.filters ?? [:]
        var changed = Set<Int64>()
        for (id, filter) in a where b[id] != filter { changed.insert(id) }
        for id in b.keys where a[id] == nil { changed.insert(id) }
        return changed
    }
}

extension Policy {
    /// Compiles the filter of every node.
    ///
    /// Cost: resolving each rule's sources once (a sort of their addresses); then for each
    /// rule destination, each target node gets the rule's resolved source set by reference
    /// (copy-on-write: 1,000 db hosts receiving `group:dev` share one interval array); only a
    /// node targeted by several rules with the same protocols, ports and destinations pays for
    /// merging them (one sort of the sets' intervals). Visibility costs |sources|·|targets| per
    /// rule destination (the size of the answer), except rules whose sources are every node,
    /// which cost O(targets) and are expanded only in the output lists. Nothing is computed per
    /// pair of nodes otherwise (Headscale's O(n²) per-peer matching).
    public func compile() -> PolicyCompilation {
        let nodes = directory.nodes
        var contributions = [[Contribution]](repeating: [], count: nodes.count)
        var peers = [[Int]](repeating: [], count: nodes.count)
        var seenByEveryone = [Bool](repeating: false, count: nodes.count)

        for rule in rules {
            let sourceIsEveryone = rule.sources.nodes.count == nodes.count
            for d in rule.destinations {
                if let target = d.target {
                    for t in target.nodes {
                        let dst = nodes[t].addresses.filter(target.addresses.contains)
                        contributions[t].append(Contribution(key: .init(protocols: rule.protocols, ports: d.ports, destinations: dst),
                                                             sources: rule.sources.addresses))
                        if sourceIsEveryone {
                            seenByEveryone[t] = true
                        } else {
                            peers[t].append(contentsOf: rule.sources.nodes)
                            for s in rule.sources.nodes { peers[s].append(t) }
                        }
                    }
                } else {
                    // autogroup:self: each user's nodes, from that user's nodes among the sources.
                    for user in rule.sourceUsers {
                        let own = nodesByUser[user] ?? []
                        let sources = own.filter { rule.sources.nodes.binarySearchContains($0) }
                        guard !sources.isEmpty else { continue }
                        let sourceAddresses = AddressSet(addresses: sources.flatMap { nodes[$0].addresses })
                        for t in own {
                            contributions[t].append(Contribution(
                                key: .init(protocols: rule.protocols, ports: d.ports, destinations: nodes[t].addresses),
                                sources: sourceAddresses))
                            peers[t].append(contentsOf: sources)
                            for s in sources { peers[s].append(t) }
                        }
                    }
                }
            }
        }

        let everyoneSeen = nodes.indices.filter { seenByEveryone[$0] }
        // Every node a rule from everyone reaches sees every node: they all share this one
        // sorted array (copy-on-write), themselves included, instead of n copies of n ids.
        let everyNode = nodes.map(\.id).sorted()
        var filters: [Int64: NodeFilter] = [:]
        filters.reserveCapacity(nodes.count)
        for (i, node) in nodes.enumerated() {
            var visible: [Int64]
            if seenByEveryone[i] {
                visible = everyNode
            } else {
                visible = Array(Set((peers[i] + everyoneSeen).map { nodes[$0].id }).subtracting([node.id])).sorted()
            }
            filters[node.id] = NodeFilter(nodeID: node.id, rules: Self.merge(contributions[i]), visiblePeers: visible)
        }
        return PolicyCompilation(filters: filters)
    }

    /// The filter of one node (the whole compile's answer for it).
    public func compile(nodeID: Int64) -> NodeFilter? { compile().filters[nodeID] }

    /// Rules that differ only in their sources become one, in order of first appearance.
    static func merge(_ contributions: [Contribution]) -> [FilterRule] {
        var order: [Contribution.Key] = []
        var sources: [Contribution.Key: [AddressSet]] = [:]
        for c in contributions where !c.key.destinations.isEmpty {
            if sources[c.key] == nil { order.append(c.key) }
            sources[c.key, default: []].append(c.sources)
        }
        return order.map { key in
            FilterRule(sources: AddressSet.union(sources[key]!), destinations: key.destinations,
                       protocols: key.protocols, ports: key.ports)
        }
    }

    struct Contribution {
        struct Key: Hashable {
            var protocols: IPProtocolSet
            var ports: [PortRange]
            var destinations: [IPAddress]
        }
        var key: Key
        var sources: AddressSet
    }
}

extension Array where Element == Int {
    func binarySearchContains(_ value: Int) -> Bool {
        var low = 0, high = count
        while low < high {
            let mid = (low + high) >> 1
            if self[mid] < value { low = mid + 1 } else { high = mid }
        }
        return low < count && self[low] == value
    }
}
