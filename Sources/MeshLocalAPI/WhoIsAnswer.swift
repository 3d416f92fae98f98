import MeshStatus

/// `meshctl whois IP --json`: the node that holds an overlay address.
///
/// Schema (stable): `{"name": String, "publicKey": String, "key": String, "ipv4": String?,
/// "ipv6": String?, "online": Bool?, "self": Bool, "path": String?}`. `publicKey` is the node's
/// WireGuard public key (base64, not a secret), `key` its 8-character short form; `online` is
/// what the coordinator last said (nil when it said nothing); `self` is true when the address
/// is this node's own; `path` is how packets to the peer travel now (absent for this node).
public struct WhoIsAnswer: Codable, Sendable, Equatable {
    public var name: String
    public var publicKey: String
    public var key: String
    public var ipv4: String?
    public var ipv6: String?
    public var online: Bool?
    public var isSelf: Bool
    public var path: String?

    enum CodingKeys: String, CodingKey {
        case name, publicKey, key, ipv4, ipv6, online, isSelf = "self", path
    }

    public init(_ match: PeerLookup.Match, in status: NodeStatus) {
        switch match {
        case .this:
            name = status.name ?? "(this node)"
            publicKey = status.publicKey
            ipv4 = status.ipv4
            ipv6 = status.ipv6
            online = status.control.map { $0 == "connected" }
            isSelf = true
            path = nil
        case .peer(let p):
            name = p.name ?? KeyShortForm.of(p.publicKey)
            publicKey = p.publicKey
            ipv4 = p.ipv4
            ipv6 = p.ipv6
            online = p.online
            isSelf = false
            path = p.path
        }
        key = KeyShortForm.of(publicKey)
    }

    /// The human form: aligned "field value" lines.
    public var lines: [String] {
        var out = ["name       \(name)\(isSelf ? " (this node)" : "")",
                   "key        \(key) (\(publicKey))",
                   "addresses  \([ipv4, ipv6].compactMap { $0 }.joined(separator: " "))"]
        out.append("online     \(online.map { $0 ? "yes" : "no" } ?? "unknown")")
        if let path { out.append("path       \(path)") }
        return out
    }
}
