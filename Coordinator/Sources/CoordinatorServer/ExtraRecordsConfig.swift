import Foundation
import MeshWire

/// `extra_records`: names MagicDNS answers on every node besides the nodes' own, one string
/// per record, `"NAME TYPE ADDRESS"` (`"db.mesh A 100.64.0.9"`, `"db.mesh AAAA fd7a::9"`,
/// also names outside the domain: `"grafana.corp.internal A 10.1.2.3"`). Checked strictly at
/// start: NAME a DNS name (lower-cased, a trailing dot dropped), TYPE A or AAAA, ADDRESS an
/// address of that family, at most `DNSExtraRecords.maxCount` records; a record twice is an
/// error, since it is almost always a copy-and-paste slip.
extension CoordinatorConfig {
    /// One record from its config text; the error says what is wrong (the caller adds file and line).
    public static func extraRecord(parsing text: String) throws -> DNSExtraRecord {
        let shown = TerminalText.escaped(String(text.prefix(120)))
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard words.count == 3 else {
            throw ConfigError("extra_records: \"\(shown)\" must be \"NAME TYPE ADDRESS\", e.g. \"db.mesh A 100.64.0.9\"")
        }
        var name = words[0].lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        if let problem = domainProblem(name) {
            throw ConfigError("extra_records: \"\(shown)\": \(TerminalText.escaped(String(name.prefix(80)))) is not a DNS name: \(problem)")
        }
        let type = words[1].uppercased()
        let family: Int32
        switch type {
        case "A": family = AF_INET
        case "AAAA": family = AF_INET6
        default: throw ConfigError("extra_records: \"\(shown)\": type must be A or AAAA, not \(TerminalText.escaped(String(words[1].prefix(20))))")
        }
        let value = words[2]
        var buffer = [UInt8](repeating: 0, count: 16)
        guard value.utf8.count <= 45, inet_pton(family, value, &buffer) == 1 else {
            throw ConfigError("extra_records: \"\(shown)\": \(TerminalText.escaped(String(value.prefix(60)))) is not an \(type == "A" ? "IPv4" : "IPv6") address")
        }
        return DNSExtraRecord(name: name, type: type, value: value)
    }

    /// The whole list: each record, the bound, no repeats.
    public static func extraRecords(parsing texts: [String]) throws -> [DNSExtraRecord] {
        guard texts.count <= DNSExtraRecords.maxCount else {
            throw ConfigError("extra_records lists \(texts.count) records; at most \(DNSExtraRecords.maxCount)")
        }
        var out: [DNSExtraRecord] = []
        var seen = Set<DNSExtraRecord>()
        for t in texts {
            let r = try extraRecord(parsing: t)
            guard seen.insert(r).inserted else {
                throw ConfigError("extra_records: \"\(TerminalText.escaped(String(t.prefix(120))))\" is listed twice")
            }
            out.append(r)
        }
        return out
    }

    /// What the netmap carries: nil when there are none (as from a coordinator without them).
    public var extraRecordsForNetmap: DNSExtraRecords? { extraRecords.isEmpty ? nil : DNSExtraRecords(extraRecords) }
}
