import MeshBase

/// Where MagicDNS listens. IPv4: 100.100.100.100 unless the admin picks another (the address
/// Tailscale uses, inside 100.64.0.0/10 but at an offset the coordinator's allocator, counting
/// up from the prefix's start, reaches only after ~600 million nodes). IPv6: inside the node's
/// overlay prefix, `<prefix>:53::53` for a /48 (0x53 in the 4th group and the last), so the
/// host's route for the prefix covers it and the allocator (which counts up from `<prefix>::1`)
/// would need 0x53 << 64 nodes to reach it. Prefixes longer than /56 leave no room for it
/// beyond the allocator's reach: no IPv6 address then.
public enum MagicDNSAddress {
    public static let defaultIPv4: IPAddress = .v4(0x6464_6464)

    public static func ipv6(in prefix: IPPrefix) -> IPAddress? {
        guard case .v6(let high, _) = prefix.masked.address, prefix.length <= 56 else { return nil }
        return .v6(high: high | 0x53, low: 0x53)
    }

    /// `--dns-address` / `dns_address`: an IPv4 address, or "off" (nil: MagicDNS is off).
    public enum Setting: Equatable, Sendable {
        case off
        case ipv4(IPAddress)
    }

    public static func parseSetting(_ text: String) -> Setting? {
        if text == "off" { return .off }
        guard let a = try? IPAddress(text), a.isV4, a != .v4(0) else { return nil }
        return .ipv4(a)
    }
}
