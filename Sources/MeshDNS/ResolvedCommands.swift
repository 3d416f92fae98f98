/// The `resolvectl` commands that give the TUN link MagicDNS's server and make `<domain>` a
/// routing-only domain (`~mesh`): systemd-resolved then sends only names under the domain (and
/// the overlay's reverse zones) to meshd, and keeps the host's resolvers for everything else.
/// `reverseZones` are the overlay prefixes' in-addr.arpa / ip6.arpa zones (the caller derives
/// them: a /10 is 64 zones of a /16). Pure: the argument vectors; running them is the driver's.
public enum ResolvedCommands {
    public static func configure(interface: String, dnsAddresses: [String], domain: String,
                                 reverseZones: [String] = []) -> [[String]] {
        [["resolvectl", "dns", interface] + dnsAddresses,
         ["resolvectl", "domain", interface, "~\(domain)"] + reverseZones.map { "~\($0)" },
         ["resolvectl", "default-route", interface, "false"]]
    }

    /// Undoes `configure` (also what happens when the link goes away).
    public static func revert(interface: String) -> [[String]] {
        [["resolvectl", "revert", interface]]
    }
}
