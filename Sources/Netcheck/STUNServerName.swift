import MeshWire

/// A STUN server as the coordinator names it: a relay's STUN host (a DNS name or an IP
/// literal) and one of its ports. Names are resolved by the driver, again on every probe
/// round, so a relay that moves or a name that failed once is picked up without a restart.
public struct STUNServerName: Hashable, Sendable, CustomStringConvertible {
    public var relayID: String
    public var host: String
    public var port: UInt16

    public init(relayID: String, host: String, port: UInt16) {
        self.relayID = relayID
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Two (valid) ports per relay are all a probe uses (the mapping test and the change-port test);
    /// more would only multiply the datagrams a list from outside could ask for.
    public static let maxPortsPerRelay = 2

    /// The STUN servers of `relays`, in the coordinator's order (the first relay's first port
    /// is the one the filtering test uses). Entries with no host or a port outside 1...65535
    /// are left out.
    public static func servers(of relays: [RelayInfo], maxRelays: Int = 8) -> [STUNServerName] {
        var out: [STUNServerName] = []
        var seen = Set<STUNServerName>()
        for relay in relays.prefix(maxRelays) {
            var host = relay.stunHost ?? RelayURL(relay.url)?.host ?? ""
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else { continue }
            let ports = relay.stunPorts.lazy.compactMap { UInt16(exactly: $0) }.filter { $0 != 0 }
            for port in ports.prefix(maxPortsPerRelay) {
                let name = STUNServerName(relayID: relay.id, host: host, port: port)
                if seen.insert(name).inserted { out.append(name) }
            }
        }
        return out
    }
}
