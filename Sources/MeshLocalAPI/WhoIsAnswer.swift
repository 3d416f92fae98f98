import MeshStatus

/// `meshctl whois IP --json`: the node that holds an overlay address.
///
/// Schema (stable): `{"name": String, "publicKey": String, "key": String, "ipv4": String?,
/// "ipv6": String?, "user": String?, "tags": [String], "online": Bool?, "self": Bool,
/// "path": String?, "hiddenByPolicy": Bool}`. `publicKey` is the node's WireGuard public key
/// (base64, not a secret), `key` its 8-character short form; `user` the user the node belongs
/// to and `tags` its tags, as the coordinator says (a tagged node has no user); `online` is
/// what the coordinator last said (nil when it said nothing); `self` is true when the address
/// is this node's own; `path` is how packets to the peer travel now (absent for this node).
/// `hiddenByPolicy`: the access policy now hides the node from this one; name, key,
/// addresses, user and tags are then as this node last saw them, and `online` and `path` are
/// absent (the coordinator tells nothing more of a hidden peer).
public struct WhoIsAnswer: Codable, Sendable, Equatable {
    public var name: String
    public var publicKey: String
    public var key: String
    public var ipv4: String?
    public var ipv6: String?
    public var user: String?
    public var tags: [String]
    public var online: Bool?
    public var isSelf: Bool
    public var path: String?
    public var hiddenByPolicy: Bool

    enum CodingKeys: String, CodingKey {
        case name, publicKey, key, ipv4, ipv6, user, tags, online, isSelf = "self", path, hiddenByPolicy
    }

    public init(_ match: PeerLookup.Match, in status: NodeStatus) {
        switch match {
        case .this:
            name = status.name ?? "(this node)"
            publicKey = status.publicKey
            ipv4 = status.ipv4
            ipv6 = status.ipv6
            user = status.user
            tags = Array((status.tags ?? []).prefix(NodeStatus.maxTagsPerNode))
            online = status.control.map { $0 == "connected" }
            isSelf = true
            path = nil
        case .peer(let p):
            name = p.name ?? KeyShortForm.of(p.publicKey)
            publicKey = p.publicKey
            ipv4 = p.ipv4
            ipv6 = p.ipv6
            user = p.user
            tags = Array((p.tags ?? []).prefix(NodeStatus.maxTagsPerNode))
            online = p.online
            isSelf = false
            path = p.path
        }
        key = KeyShortForm.of(publicKey)
        hiddenByPolicy = false
    }

    /// A peer the access policy hides from this node: what this node last knew of it.
    public init(absent a: NodeStatus.AbsentPeer) {
        name = a.name
        publicKey = a.publicKey
        key = KeyShortForm.of(a.publicKey)
        ipv4 = a.ipv4
        ipv6 = a.ipv6
        user = a.user
        tags = Array((a.tags ?? []).prefix(NodeStatus.maxTagsPerNode))
        online = nil
        isSelf = false
        path = nil
        hiddenByPolicy = true
    }

    /// The human form: aligned "field value" lines.
    public var lines: [String] {
        var out = ["name       \(Self.clean(name))\(isSelf ? " (this node)" : "")",
                   "key        \(key) (\(publicKey))",
                   "addresses  \([ipv4, ipv6].compactMap { $0 }.joined(separator: " "))",
                   "user       \(user.map(Self.clean) ?? "-")",
                   "tags       \(tags.isEmpty ? "-" : tags.map(Self.clean).joined(separator: ", "))"]
        if hiddenByPolicy {
            out.append("status     absent: hidden from this node by the access policy (details as last seen)")
            return out
        }
        out.append("online     \(online.map { $0 ? "yes" : "no" } ?? "unknown")")
        if let path { out.append("path       \(Self.clean(path))") }
        return out
    }

    /// Control characters (C0, DEL, C1) as "?": these came from the network and reach a terminal.
    static func clean(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.map { c in
            c.value < 0x20 || (0x7F...0x9F).contains(c.value) ? "?" : c
        }))
    }
}
