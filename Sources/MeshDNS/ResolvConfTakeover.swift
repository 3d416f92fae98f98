/// What meshd writes when it takes /etc/resolv.conf over (`--manage-resolv-conf`), and the
/// resolvers it forwards to from then on, from the file's current bytes. Refused when the
/// bytes cannot be a resolv.conf meshd can faithfully give back, or are already meshd's own
/// (a backup lost with its state directory: backing that up would make MagicDNS its own
/// upstream and lose the host's real resolvers for good).
public enum ResolvConfTakeover {
    public enum Plan: Equatable, Sendable {
        case manage(managed: [UInt8], upstreams: HostResolvers)
        case refuse(reason: String)
    }

    /// Larger files are not taken over (a resolv.conf is a few hundred bytes; the driver reads
    /// at most one byte more than this).
    public static let byteLimit = 64 << 10
    /// The first line of every file meshd writes.
    public static let marker = "# written by meshd (MagicDNS)"

    public static func plan(current: [UInt8], dnsAddress: String, domain: String) -> Plan {
        guard current.count <= byteLimit else {
            return .refuse(reason: "it is larger than \(byteLimit) bytes")
        }
        guard let text = String(validating: current, as: UTF8.self) else {
            return .refuse(reason: "it is not UTF-8 text")
        }
        let original = ResolvConf(parsing: text)
        if text.hasPrefix(marker) {
            return .refuse(reason: "it is already a file meshd wrote, and its original is not in the state directory: put the host's own resolv.conf back by hand")
        }
        let managed = ResolvConf.managed(dnsAddress: dnsAddress, domain: domain, original: original)
        return .manage(managed: Array(managed.utf8), upstreams: HostResolvers(original: original, excluding: dnsAddress))
    }
}
