import MeshBase

/// A node as the policy sees it: who owns it (a user, or tags), and its overlay addresses. The
/// coordinator builds these from its node table; the policy never learns keys or endpoints.
///
/// As in Tailscale, a tagged node is identified by its tags alone: user aliases,
/// `autogroup:member` and `autogroup:self` do not match it.
public struct PolicyNode: Hashable, Sendable {
    public var id: Int64
    public var name: String
    public var user: String?
    /// Full tag names, `tag:db`.
    public var tags: Set<String>
    public var ipv4: IPAddress?
    public var ipv6: IPAddress?

    public init(id: Int64, name: String, user: String?, tags: Set<String> = [], ipv4: IPAddress?, ipv6: IPAddress? = nil) {
        self.id = id
        self.name = name
        self.user = user
        self.tags = tags
        self.ipv4 = ipv4
        self.ipv6 = ipv6
    }

    public var isTagged: Bool { !tags.isEmpty }

    /// The user whose identity the node carries, nil for tagged nodes.
    public var owningUser: String? { isTagged ? nil : user }

    public var addresses: [IPAddress] { [ipv4, ipv6].compactMap { $0 } }
}

/// The mesh as the policy is checked against: its nodes and its users (users may exist before
/// they own a node, so the list is given, not derived; node owners are added to it).
public struct PolicyDirectory: Hashable, Sendable {
    public var nodes: [PolicyNode]
    public var users: Set<String>

    public init(nodes: [PolicyNode], users: Set<String> = []) {
        self.nodes = nodes
        self.users = users.union(nodes.compactMap(\.user))
    }
}
