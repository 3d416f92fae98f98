import MeshBase

/// A resolver MagicDNS forwards the names that are not its own to: one of the host's
/// `nameserver`s, port 53.
public struct DNSUpstream: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16

    public init(address: IPAddress, port: UInt16 = 53) {
        self.address = address
        self.port = port
    }

    public var description: String { address.isV4 ? "\(address):\(port)" : "[\(address)]:\(port)" }

    /// The upstreams in `resolvConf`'s order, without repeats, without what cannot be an
    /// upstream (text that is not an address, such as a link-local address with a zone, and
    /// 0.0.0.0 / ::), and without `ownAddresses`: a file that already names MagicDNS (left by a
    /// crashed run, or written by whoever manages resolv.conf) must not make meshd forward to
    /// itself. A loopback stub (systemd-resolved's 127.0.0.53) stays: it forwards only what
    /// is not routed to MagicDNS's link.
    public static func list(from resolvConf: ResolvConf, excluding ownAddresses: [IPAddress]) -> [DNSUpstream] {
        var out: [DNSUpstream] = []
        for text in resolvConf.nameservers {
            guard let address = try? IPAddress(text), !ownAddresses.contains(address),
                  address != .v4(0), address != .v6(high: 0, low: 0) else { continue }
            let upstream = DNSUpstream(address: address)
            if !out.contains(upstream) { out.append(upstream) }
        }
        return out
    }
}
