/// /etc/resolv.conf as meshd reads it at start (the resolvers and search domains the host had,
/// where everything that is not MagicDNS's goes) and as it writes it when the admin lets it
/// manage the file: MagicDNS's address first and only, our domain searched first, the
/// original search domains after it. Pure: text in, text out; the file I/O is the driver's.
public struct ResolvConf: Sendable, Equatable {
    public var nameservers: [String] = []
    public var search: [String] = []
    /// The words of the `options` lines (`timeout:1`, `use-vc`, ...), kept in the managed file:
    /// they tune the host's stub resolver, whichever server it asks.
    public var options: [String] = []
    /// resolv.conf(5) reads at most 3 nameservers (MAXNS) and 6 search domains in glibc < 2.26;
    /// more are kept up to these bounds so a hostile or huge file cannot grow the forwarder's list.
    public static let maxNameservers = 8
    public static let maxSearch = 32
    public static let maxOptions = 32

    public init(nameservers: [String] = [], search: [String] = [], options: [String] = []) {
        self.nameservers = nameservers
        self.search = search
        self.options = options
    }

    /// `nameserver`, `search`/`domain` and `options` lines; comments (`#`, `;`) and other lines
    /// are ignored. The last `search` or `domain` line wins, as in glibc; `options` lines add up.
    public init(parsing text: String) {
        for raw in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let words = raw.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let key = words.first, !key.hasPrefix("#"), !key.hasPrefix(";") else { continue }
            let values = words.dropFirst().prefix { !$0.hasPrefix("#") && !$0.hasPrefix(";") }.map(String.init)
            switch key {
            case "nameserver":
                if let v = values.first, nameservers.count < Self.maxNameservers { nameservers.append(v) }
            case "search", "domain":
                search = Array(values.prefix(Self.maxSearch))
            case "options":
                options += values.prefix(max(0, Self.maxOptions - options.count))
            default:
                continue
            }
        }
    }

    /// The file meshd writes: MagicDNS's address as the only nameserver (it forwards the rest),
    /// `domain` first in the search list, then the host's own domains without repeating it; the
    /// host's options as they were.
    public static func managed(dnsAddress: String, domain: String, original: ResolvConf) -> String {
        var search = [domain]
        for s in original.search where s.lowercased() != domain.lowercased() && !search.contains(s) { search.append(s) }
        return "# written by meshd (MagicDNS); the original is restored when meshd stops\n"
            + "nameserver \(dnsAddress)\n"
            + "search \(search.joined(separator: " "))\n"
            + (original.options.isEmpty ? "" : "options \(original.options.joined(separator: " "))\n")
    }
}
