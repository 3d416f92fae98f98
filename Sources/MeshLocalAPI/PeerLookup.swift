import MeshBase
import MeshStatus

/// Finds one node of the netmap as `meshctl ping PEER`, `ip PEER` and `whois IP` name it: by
/// node name (any case), by overlay address (any spelling of it: `fd7a::2` and
/// `fd7a:0:0::2` are one address), or by public key (whole, or at least the short form's 8
/// characters of its start). This node itself can be found too (`whois` of our own address).
public enum PeerLookup {
    /// What a query found.
    public enum Match: Equatable, Sendable {
        case this
        case peer(NodeStatus.PeerStatus)
    }

    /// The shortest key prefix taken as a key.
    public static let minKeyPrefix = KeyShortForm.length
    /// At most this many names are listed in a "not found" sentence.
    public static let namesListed = 8

    public static func find(_ query: String, in status: NodeStatus) throws(PeerLookupError) -> Match {
        if let address = try? IPAddress(query) {
            if [status.ipv4, status.ipv6].contains(where: { $0.map { same($0, address) } ?? false }) { return .this }
            if let p = status.peers.first(where: { p in [p.ipv4, p.ipv6].contains { $0.map { same($0, address) } ?? false } }) {
                return .peer(p)
            }
            if let a = absent(query, in: status) { throw hidden(a) }
            throw PeerLookupError("no node of this network has the overlay address \(address)")
        }
        if let name = status.name, name.lowercased() == query.lowercased() { return .this }
        let byName = status.peers.filter { $0.name?.lowercased() == query.lowercased() }
        if byName.count == 1 { return .peer(byName[0]) }
        if byName.count > 1 {
            throw PeerLookupError("\(byName.count) peers are named '\(query)'; name one by its address or key")
        }
        if query.count >= minKeyPrefix {
            if status.publicKey == query || (query.count < 44 && status.publicKey.hasPrefix(query)) { return .this }
            let byKey = status.peers.filter { $0.publicKey == query || (query.count < 44 && $0.publicKey.hasPrefix(query)) }
            if byKey.count == 1 { return .peer(byKey[0]) }
            if byKey.count > 1 { throw PeerLookupError("the key prefix '\(query)' matches \(byKey.count) peers; give more of it") }
        }
        if let a = absent(query, in: status) { throw hidden(a) }
        let names = status.peers.compactMap(\.name).sorted()
        let known = names.isEmpty ? "this node has no peers"
            : "peers: " + names.prefix(namesListed).joined(separator: ", ") + (names.count > namesListed ? ", …" : "")
        throw PeerLookupError("no peer named '\(query)' in this node's netmap (\(known))")
    }

    /// The absent peer (hidden by the access policy) a query names, by the same rules as
    /// `find`: address, name, or key. nil when none (or when the query names a listed peer).
    public static func absent(_ query: String, in status: NodeStatus) -> NodeStatus.AbsentPeer? {
        let absent = status.absentPeers ?? []
        guard !absent.isEmpty else { return nil }
        if let address = try? IPAddress(query) {
            return absent.first { a in [a.ipv4, a.ipv6].contains { $0.map { same($0, address) } ?? false } }
        }
        let byName = absent.filter { $0.name.lowercased() == query.lowercased() }
        if byName.count == 1 { return byName[0] }
        guard byName.isEmpty, query.count >= minKeyPrefix else { return nil }
        let byKey = absent.filter { $0.publicKey == query || (query.count < 44 && $0.publicKey.hasPrefix(query)) }
        return byKey.count == 1 ? byKey[0] : nil
    }

    /// "b (100.64.0.2) is hidden from this node by the access policy": what ping and ip say.
    static func hidden(_ a: NodeStatus.AbsentPeer) -> PeerLookupError {
        let address = a.ipv4 ?? a.ipv6
        let why = a.reason == NodeStatus.AbsentPeer.hiddenByPolicy ? "hidden from this node by the access policy" : "absent (\(a.reason))"
        return PeerLookupError("\(a.name)\(address.map { " (\($0))" } ?? "") is \(why)")
    }

    static func same(_ text: String, _ address: IPAddress) -> Bool {
        (try? IPAddress(text)) == address
    }
}

/// Why a peer could not be found, one sentence.
public struct PeerLookupError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
