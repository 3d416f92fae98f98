#if canImport(Glibc)
import Glibc
#endif
import WireGuard

/// Turns a host name (or an IP literal) into UDP addresses with the system resolver
/// (getaddrinfo: /etc/hosts, then DNS). Blocking, so callers run it off the data and timer
/// paths. Relays and STUN servers are named by DNS names in the field; a name that cannot be
/// resolved yields no address, and callers resolve again later rather than give up.
public enum HostResolver {
    /// At most this many addresses per name: a hostile or broken resolver answer cannot grow
    /// the probe list without bound.
    public static let maxAddressesPerName = 8

    /// Addresses for `host`, IPv4 first, each with `port`. `host` may be an IP literal in
    /// brackets ("[2001:db8::1]").
    public static func resolve(host: String, port: UInt16) -> [UDPAddress] {
        var name = host
        if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        guard !name.isEmpty, name.utf8.count <= 253 else { return [] }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>? = nil
        guard getaddrinfo(name, nil, &hints, &list) == 0 else { return [] }
        defer { freeaddrinfo(list) }
        var v4: [UDPAddress] = [], v6: [UDPAddress] = []
        var node = list
        while let n = node, v4.count + v6.count < maxAddressesPerName {
            defer { node = n.pointee.ai_next }
            guard let sa = n.pointee.ai_addr else { continue }
            switch Int32(sa.pointee.sa_family) {
            case AF_INET:
                let a = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
                let b = withUnsafeBytes(of: a) { Array($0) }
                let addr = UDPAddress(ipv4: b[0], b[1], b[2], b[3], port: port)
                if !v4.contains(addr) { v4.append(addr) }
            case AF_INET6:
                var ip = SIMD16<UInt8>()
                sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                    withUnsafeBytes(of: p.pointee.sin6_addr) { raw in for i in 0..<16 { ip[i] = raw[i] } }
                }
                let addr = UDPAddress(ip: ip, port: port)
                if !v6.contains(addr) { v6.append(addr) }
            default: continue
            }
        }
        return v4 + v6
    }
}
