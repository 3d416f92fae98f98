import MeshBase

/// A policy bound to the mesh it governs: the document's aliases resolved against the nodes and
/// users of a `PolicyDirectory`. This is what the coordinator checks a new policy with (`load`:
/// parse, users, tests) and compiles per node; it is rebuilt when nodes, tags or users change.
public struct Policy: Sendable {
    public let document: PolicyDocument
    public let directory: PolicyDirectory
    let rules: [ResolvedRule]
    let nodeIndexByAddress: [IPAddress: Int]
    let nodesByUser: [String: [Int]]
    let resolver: AliasResolver

    /// Parses, resolves and runs the policy's own `tests`: the one call `policy set` needs.
    public static func load(_ text: String, directory: PolicyDirectory,
                            limits: HuJSONReader.Limits = .init()) throws(PolicyError) -> Policy {
        let policy = try Policy(document: try PolicyDocument.parse(text, limits: limits), directory: directory)
        try policy.runTests()
        return policy
    }

    /// Refuses a document naming a user the mesh does not have.
    public init(document: PolicyDocument, directory: PolicyDirectory) throws(PolicyError) {
        for reference in document.userReferences where !directory.users.contains(reference.value) {
            throw PolicyError("unknown user \"\(reference.value)\" (not a user of this mesh)", at: reference.position)
        }
        self.document = document
        self.directory = directory
        var byAddress: [IPAddress: Int] = [:]
        var byUser: [String: [Int]] = [:]
        var byTag: [String: [Int]] = [:]
        var members: [Int] = []
        for (i, node) in directory.nodes.enumerated() {
            for a in node.addresses where byAddress[a] == nil { byAddress[a] = i }
            if let u = node.owningUser {
                byUser[u, default: []].append(i)
                members.append(i)
            }
            for t in node.tags { byTag[t, default: []].append(i) }
        }
        nodeIndexByAddress = byAddress
        nodesByUser = byUser
        let resolver = AliasResolver(document: document, nodes: directory.nodes, byUser: byUser, byTag: byTag, members: members)
        self.resolver = resolver
        rules = document.rules.map { rule in
            let sources = ResolvedSet.union(rule.sources.map { resolver.resolve($0.value) })
            let sourceUsers = Set(sources.nodes.compactMap { directory.nodes[$0].owningUser })
            let destinations = rule.destinations.map { d -> ResolvedDestination in
                d.alias == .autogroupSelf
                    ? ResolvedDestination(target: nil, ports: d.ports)
                    : ResolvedDestination(target: resolver.resolve(d.alias), ports: d.ports)
            }
            return ResolvedRule(sources: sources, sourceUsers: sourceUsers, destinations: destinations,
                                protocols: rule.protocols, position: rule.position)
        }
    }

    /// Whether a packet from `source` to `destination:port` over `proto` starts an allowed flow.
    /// For protocols without ports (ICMP, GRE, ...) a rule that allows the protocol between the
    /// two addresses allows it whatever its ports say, as in Tailscale.
    public func check(source: IPAddress, destination: IPAddress, proto: UInt8, port: UInt16) -> Bool {
        let portMatters = IPProtocolNumber.hasPorts(proto)
        for rule in rules where rule.protocols.contains(proto) && rule.sources.addresses.contains(source) {
            for d in rule.destinations where !portMatters || d.ports.containsPort(port) {
                if let target = d.target {
                    if target.addresses.contains(destination) { return true }
                } else if let s = nodeIndexByAddress[source], let t = nodeIndexByAddress[destination],
                          let u = directory.nodes[s].owningUser, directory.nodes[t].owningUser == u {
                    return true
                }
            }
        }
        return false
    }

    /// `check` from a node, by its address of the destination's family (false if it has none).
    public func check(source node: PolicyNode, destination: IPAddress, proto: UInt8, port: UInt16) -> Bool {
        guard let source = destination.isV4 ? node.ipv4 : node.ipv6 else { return false }
        return check(source: source, destination: destination, proto: proto, port: port)
    }

    /// Runs the document's `tests`. Each accept (deny) target must be allowed (refused) from
    /// every address of the source to every address of the target of the same family, and at
    /// least one such pair must exist, so a test naming nodes that do not exist cannot pass
    /// vacuously.
    public func runTests() throws(PolicyError) {
        for test in document.tests {
            let sources = testAddresses(test.source.value)
            guard !sources.isEmpty else {
                throw PolicyError("test at \(test.position): src \"\(test.sourceText)\" has no node or address to test from",
                                  at: test.source.position)
            }
            for (expectAllowed, targets) in [(true, test.accept), (false, test.deny)] {
                for target in targets {
                    let destinations = testAddresses(target.alias)
                    var pairs = 0
                    for s in sources {
                        for d in destinations where d.isV4 == s.isV4 {
                            pairs += 1
                            let allowed = check(source: s, destination: d, proto: test.protocolNumber, port: target.port)
                            guard allowed == expectAllowed else {
                                let verb = allowed ? "accepts" : "denies"
                                throw PolicyError("test at \(test.position) fails: the policy \(verb) \(test.sourceText) (\(s)) → \(target.text) (\(d)), the test expects \(expectAllowed ? "accept" : "deny")",
                                                  at: test.position)
                            }
                        }
                    }
                    guard pairs > 0 else {
                        throw PolicyError("test at \(test.position): \"\(test.sourceText)\" → \"\(target.text)\" names no pair of addresses of one family to test",
                                          at: target.position)
                    }
                }
            }
        }
    }

    /// A test names concrete addresses: a node alias its nodes' addresses, a single-address
    /// prefix or host that address, a wider prefix the nodes inside it.
    func testAddresses(_ alias: PolicyAlias) -> [IPAddress] {
        switch alias {
        case .prefix(let p) where p.length == p.address.bitWidth: return [p.address]
        case .host(let h) where document.hosts[h].map({ $0.length == $0.address.bitWidth }) == true:
            return [document.hosts[h]!.address]
        default:
            return resolver.resolve(alias).nodes.flatMap { directory.nodes[$0].addresses }
        }
    }
}

/// Addresses an alias stands for, and the mesh nodes among them (for visibility).
struct ResolvedSet: Sendable {
    var addresses: AddressSet
    /// Sorted, unique indices into the directory's nodes.
    var nodes: [Int]

    static func union(_ sets: [ResolvedSet]) -> ResolvedSet {
        if sets.count == 1 { return sets[0] }
        return ResolvedSet(addresses: AddressSet.union(sets.map(\.addresses)),
                           nodes: Array(Set(sets.flatMap(\.nodes))).sorted())
    }
}

struct ResolvedDestination: Sendable {
    /// nil: autogroup:self.
    var target: ResolvedSet?
    var ports: [PortRange]
}

struct ResolvedRule: Sendable {
    var sources: ResolvedSet
    /// Owners of the source nodes: whose nodes autogroup:self opens.
    var sourceUsers: Set<String>
    var destinations: [ResolvedDestination]
    var protocols: IPProtocolSet
    var position: SourcePosition
}

struct AliasResolver: Sendable {
    let document: PolicyDocument
    let nodes: [PolicyNode]
    let byUser: [String: [Int]]
    let byTag: [String: [Int]]
    let members: [Int]

    func resolve(_ alias: PolicyAlias) -> ResolvedSet {
        switch alias {
        case .any:
            return ResolvedSet(addresses: .everything, nodes: Array(nodes.indices))
        case .user(let u):
            return ofNodes(byUser[u] ?? [])
        case .group(let g):
            let users = document.groups[g]?.map(\.value) ?? []
            return ofNodes(Array(Set(users.flatMap { byUser[$0] ?? [] })).sorted())
        case .tag(let t):
            return ofNodes(byTag[t] ?? [])
        case .autogroupMember:
            return ofNodes(members)
        case .autogroupSelf:
            return ResolvedSet(addresses: AddressSet(), nodes: [])
        case .host(let h):
            guard let p = document.hosts[h] else { return ResolvedSet(addresses: AddressSet(), nodes: []) }
            return ofPrefix(p)
        case .prefix(let p):
            return ofPrefix(p)
        }
    }

    func ofNodes(_ indices: [Int]) -> ResolvedSet {
        ResolvedSet(addresses: AddressSet(addresses: indices.flatMap { nodes[$0].addresses }), nodes: indices)
    }

    func ofPrefix(_ p: IPPrefix) -> ResolvedSet {
        ResolvedSet(addresses: AddressSet(prefixes: [p]),
                    nodes: nodes.indices.filter { nodes[$0].addresses.contains(where: p.contains) })
    }
}
