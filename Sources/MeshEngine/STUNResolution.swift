import MeshBase
import Netcheck

/// Which addresses each STUN server name is probed at: its first address of each family the
/// node itself has (IPv4 when it has an IPv4 endpoint, IPv6 when it has a global or ULA IPv6
/// one), so a dual-stack node learns its public endpoint in both families and a node without
/// IPv6 never sends to an AAAA answer it cannot reach. A node with neither (no usable address
/// found yet) tries both. IPv4 servers come first: the probe's filtering test goes to the first
/// server, and NAT filtering is an IPv4 question. The resolver is a parameter (getaddrinfo in
/// meshd, a table in tests).
public enum STUNResolution {
    public struct Result: Sendable {
        public var resolved: [(address: UDPAddress, relayID: String)]
        public var unresolved: [STUNServerName]
    }

    /// The address families a node has, from the local endpoints it gathered.
    public struct Families: Equatable, Sendable {
        public var ipv4: Bool
        public var ipv6: Bool
        public init(ipv4: Bool, ipv6: Bool) {
            self.ipv4 = ipv4
            self.ipv6 = ipv6
        }

        public init(localEndpoints: [String]) {
            let addresses = localEndpoints.compactMap { (try? Endpoint($0)).map(UDPAddress.init) }
            self.init(ipv4: addresses.contains(where: \.isIPv4), ipv6: addresses.contains { !$0.isIPv4 })
        }
    }

    public static func resolve(_ names: [STUNServerName], families: Families,
                               using lookup: (String, UInt16) -> [UDPAddress]) -> Result {
        let wanted = families.ipv4 || families.ipv6 ? families : Families(ipv4: true, ipv6: true)
        var v4: [(address: UDPAddress, relayID: String)] = []
        var v6: [(address: UDPAddress, relayID: String)] = []
        var unresolved: [STUNServerName] = []
        for name in names {
            let addresses = lookup(name.host, name.port)
            let a4 = wanted.ipv4 ? addresses.first(where: \.isIPv4) : nil
            let a6 = wanted.ipv6 ? addresses.first(where: { !$0.isIPv4 }) : nil
            if let a4 { v4.append((a4, name.relayID)) }
            if let a6 { v6.append((a6, name.relayID)) }
            if a4 == nil && a6 == nil { unresolved.append(name) }
        }
        return Result(resolved: v4 + v6, unresolved: unresolved)
    }
}
