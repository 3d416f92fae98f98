import MeshBase
import Netcheck

/// Which address each STUN server name is probed at. A probe compares the address a NAT maps
/// us to across servers, so all servers must be of one family: IPv4 when any name has an IPv4
/// address, else IPv6. The resolver is a parameter (getaddrinfo in meshd, a table in tests).
public enum STUNResolution {
    public struct Result: Sendable {
        public var resolved: [(address: UDPAddress, relayID: String)]
        public var unresolved: [STUNServerName]
    }

    public static func resolve(_ names: [STUNServerName], using lookup: (String, UInt16) -> [UDPAddress]) -> Result {
        let all = names.map { ($0, lookup($0.host, $0.port)) }
        let anyV4 = all.contains { $0.1.contains(where: \.isIPv4) }
        var out = Result(resolved: [], unresolved: [])
        for (name, addrs) in all {
            if let a = anyV4 ? addrs.first(where: \.isIPv4) : addrs.first { out.resolved.append((a, name.relayID)) }
            else { out.unresolved.append(name) }
        }
        return out
    }
}
