import MeshBase
import MeshPolicy
import MeshWire

/// A netmap's packet filter (`PacketFilterMessage`, text on the wire) as the rules the data
/// plane's `PacketFilter` takes. Pure. Everything in the message comes from the coordinator,
/// so it is checked before it is used: the bounds first (before any text is parsed), then every
/// prefix, address and port range; one bad field refuses the whole filter, because a rule with
/// a dropped source or port would allow something other than what the policy says, and the
/// node keeps the filter it had.
public enum NetmapFilterRules {
    /// The rules to enforce; nil means no filtering (no filter in the map, or `enforced`
    /// false: no policy at the coordinator). An enforced filter without rules refuses every
    /// new connection from peers.
    public static func rules(from message: PacketFilterMessage?) throws(NetmapFilterError) -> [FilterRule]? {
        guard let message, message.enforced else { return nil }
        if let problem = message.boundsProblem { throw NetmapFilterError(problem) }
        var rules: [FilterRule] = []
        rules.reserveCapacity(message.rules.count)
        for (index, rule) in message.rules.enumerated() {
            let n = index + 1
            var sources: [IPPrefix] = []
            sources.reserveCapacity(rule.sources.count)
            for text in rule.sources {
                do { sources.append(try IPPrefix(text)) } catch {
                    throw NetmapFilterError("rule \(n): source \(shown(text)) is not a CIDR prefix (\(printable(error.reason, 120)))")
                }
            }
            var destinations: [IPAddress] = []
            destinations.reserveCapacity(rule.destinations.count)
            for text in rule.destinations {
                do { destinations.append(try IPAddress(text)) } catch {
                    throw NetmapFilterError("rule \(n): destination \(shown(text)) is not an address (\(printable(error.reason, 120)))")
                }
            }
            var ports: [PortRange] = []
            ports.reserveCapacity(rule.ports.count)
            for p in rule.ports {
                guard p.first <= p.last else {
                    throw NetmapFilterError("rule \(n): port range \(p.first)-\(p.last) ends before it starts")
                }
                ports.append(PortRange(p.first, p.last))
            }
            rules.append(FilterRule(sourcePrefixes: sources, destinations: destinations, protocols: rule.protocols, ports: ports))
        }
        return rules
    }

    /// Text from the coordinator as a log line may show it: quoted, at most 64 characters,
    /// anything but printable ASCII as '?'.
    static func shown(_ text: String) -> String {
        "'" + printable(text, 64) + "'"
    }

    /// At most `limit` characters, anything but printable ASCII as '?': the parsers' own
    /// reasons quote the text they refused, which came from the coordinator.
    static func printable(_ text: String, _ limit: Int) -> String {
        let kept = text.unicodeScalars.prefix(limit).map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?" }
        return String(kept) + (text.unicodeScalars.count > limit ? "…" : "")
    }
}

/// Why a netmap's packet filter was refused: one sentence naming the rule (1-based) and field.
public struct NetmapFilterError: Error, Equatable, Sendable, CustomStringConvertible {
    public var reason: String
    init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
