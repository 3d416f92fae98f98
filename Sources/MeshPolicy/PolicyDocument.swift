import MeshBase

/// A policy file as written, after its structure has been checked: every name it uses is
/// defined in it (groups, tags, hosts), ports and prefixes parse, and no key is unknown. Users
/// are checked against the mesh by `Policy`, because they live in the coordinator's store.
/// Every element keeps its position for error messages.
public struct PolicyDocument: Hashable, Sendable {
    public struct Located<Value: Hashable & Sendable>: Hashable, Sendable {
        public var value: Value
        public var position: SourcePosition
    }

    /// `dst` entries: an alias and the ports it opens.
    public struct Destination: Hashable, Sendable {
        public var alias: PolicyAlias
        public var ports: [PortRange]
        public var position: SourcePosition
    }

    public struct Rule: Hashable, Sendable {
        public var sources: [Located<PolicyAlias>]
        public var destinations: [Destination]
        public var protocols: IPProtocolSet
        public var position: SourcePosition
    }

    /// A `tests` entry: `accept` and `deny` targets are single ports.
    public struct Test: Hashable, Sendable {
        public struct Target: Hashable, Sendable {
            public var alias: PolicyAlias
            public var port: UInt16
            public var text: String
            public var position: SourcePosition
        }
        public var source: Located<PolicyAlias>
        public var sourceText: String
        public var protocolNumber: UInt8
        public var accept: [Target]
        public var deny: [Target]
        public var position: SourcePosition
    }

    public var groups: [String: [Located<String>]] = [:]
    public var tagOwners: [String: [Located<PolicyAlias>]] = [:]
    public var hosts: [String: IPPrefix] = [:]
    public var rules: [Rule] = []
    public var tests: [Test] = []

    public init() {}

    /// Every user the document names (in groups, tagOwners, rules and tests), with where.
    public var userReferences: [Located<String>] {
        var out: [Located<String>] = []
        for (_, members) in groups { out += members }
        for (_, owners) in tagOwners {
            for o in owners { if case .user(let u) = o.value { out.append(Located(value: u, position: o.position)) } }
        }
        for r in rules {
            for s in r.sources { if case .user(let u) = s.value { out.append(Located(value: u, position: s.position)) } }
            for d in r.destinations { if case .user(let u) = d.alias { out.append(Located(value: u, position: d.position)) } }
        }
        for t in tests {
            if case .user(let u) = t.source.value { out.append(Located(value: u, position: t.source.position)) }
            for target in t.accept + t.deny {
                if case .user(let u) = target.alias { out.append(Located(value: u, position: target.position)) }
            }
        }
        return out.sorted { $0.position < $1.position }
    }
}
