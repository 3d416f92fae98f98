import MeshStatus

/// `meshctl ip [-4|-6] [PEER] --json`: one node's overlay addresses.
///
/// Schema (stable): `{"name": String, "ipv4": String?, "ipv6": String?}`: `name` is the node's
/// name in the network; an address is absent when the node has none in that family or the
/// caller asked for the other family only (`-4`, `-6`).
public struct AddressAnswer: Codable, Sendable, Equatable {
    public var name: String
    public var ipv4: String?
    public var ipv6: String?

    public init(name: String, ipv4: String?, ipv6: String?) {
        self.name = name
        self.ipv4 = ipv4
        self.ipv6 = ipv6
    }

    public enum Family: Sendable { case both, ipv4, ipv6 }

    /// The addresses of `match` (or of this node), narrowed to `family`.
    public init(_ match: PeerLookup.Match, in status: NodeStatus, family: Family) throws(PeerLookupError) {
        let found: (name: String?, v4: String?, v6: String?)
        switch match {
        case .this: found = (status.name, status.ipv4, status.ipv6)
        case .peer(let p): found = (p.name, p.ipv4, p.ipv6)
        }
        let (v4, v6) = (found.v4, found.v6)
        guard let name = found.name else {
            throw PeerLookupError("this node has no overlay addresses: it runs from a config file, not in a network")
        }
        self.init(name: name, ipv4: family == .ipv6 ? nil : v4, ipv6: family == .ipv4 ? nil : v6)
        if ipv4 == nil && ipv6 == nil {
            throw PeerLookupError("\(name) has no overlay \(family == .ipv6 ? "IPv6" : "IPv4") address")
        }
    }

    /// One address per line, IPv4 first (what scripts read: `$(meshctl ip -4)`).
    public var lines: [String] { [ipv4, ipv6].compactMap { $0 } }
}
