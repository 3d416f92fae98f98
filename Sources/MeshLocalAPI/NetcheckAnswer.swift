/// `meshctl netcheck --json`: what the daemon's STUN probing from its own UDP socket (the one
/// peers reach it on) found out about the network: whether UDP gets out, the public endpoint
/// per family, whether the NAT is easy (one mapping for every destination) or hard (a mapping
/// per destination: direct paths need the other side to be easy), whether it lets in answers
/// from a port we never sent to, and the round trip to each relay's STUN server.
///
/// Schema (stable): `{"udp": Bool, "ipv4": String?, "ipv6": String?, "nat": "easy" | "hard" |
/// "unknown", "mappingVariesByDestination": Bool?, "filtering": ("open" | "filtered")?,
/// "servers": [{"server": String, "relay": String?, "mapped": String?, "latencyMs": Double?}],
/// "relays": [{"id": String, "latencyMs": Int?, "connected": Bool, "home": Bool}],
/// "preferredRelay": String?}`. `ipv4`/`ipv6` are "IP:PORT" when every server of that family
/// saw the same mapping; `filtering` is nil when it was not tested.
public struct NetcheckAnswer: Codable, Sendable, Equatable {
    public struct Server: Codable, Sendable, Equatable {
        public var server: String
        public var relay: String?
        public var mapped: String?
        public var latencyMs: Double?
        public init(server: String, relay: String?, mapped: String?, latencyMs: Double?) {
            self.server = server
            self.relay = relay
            self.mapped = mapped
            self.latencyMs = latencyMs
        }
    }
    public struct Relay: Codable, Sendable, Equatable {
        public var id: String
        public var latencyMs: Int?
        public var connected: Bool
        public var home: Bool
        public init(id: String, latencyMs: Int?, connected: Bool, home: Bool) {
            self.id = id
            self.latencyMs = latencyMs
            self.connected = connected
            self.home = home
        }
    }
    public enum NAT: String, Codable, Sendable { case easy, hard, unknown }
    public enum Filtering: String, Codable, Sendable { case open, filtered }

    public var udp: Bool
    public var ipv4: String?
    public var ipv6: String?
    public var nat: NAT
    public var mappingVariesByDestination: Bool?
    public var filtering: Filtering?
    public var servers: [Server]
    public var relays: [Relay]
    public var preferredRelay: String?

    public init(udp: Bool, ipv4: String?, ipv6: String?, mappingVariesByDestination: Bool?,
                receivesFromUnsolicitedPort: Bool?, servers: [Server], relays: [Relay],
                preferredRelay: String?) {
        self.udp = udp
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.mappingVariesByDestination = mappingVariesByDestination
        switch mappingVariesByDestination {
        case .some(true): nat = .hard
        case .some(false): nat = .easy
        case .none: nat = .unknown
        }
        filtering = receivesFromUnsolicitedPort.map { $0 ? .open : .filtered }
        self.servers = servers
        self.relays = relays
        self.preferredRelay = preferredRelay
    }

    /// The human report.
    public var lines: [String] {
        var out = ["UDP: " + (udp ? "yes" : "no (nothing answered: UDP may be blocked; peers are reached through a relay)")]
        out.append("IPv4: " + (ipv4 ?? (servers.contains { !$0.server.hasPrefix("[") && $0.mapped != nil } ? "varies by destination" : "none")))
        out.append("IPv6: " + (ipv6 ?? (servers.contains { $0.server.hasPrefix("[") && $0.mapped != nil } ? "varies by destination" : "none")))
        switch nat {
        case .easy: out.append("NAT: easy (one public port for every destination: peers can reach this node directly)")
        case .hard: out.append("NAT: hard (a new public port per destination: direct paths need an easy NAT on the other side)")
        case .unknown: out.append("NAT: unknown (fewer than two STUN servers of one family answered)")
        }
        switch filtering {
        case .some(.open): out.append("filtering: open (answers from a port never sent to get through)")
        case .some(.filtered): out.append("filtering: by port (only answers from where we sent get through)")
        case .none: break
        }
        for s in servers {
            let rtt = s.latencyMs.map { "\(PingReply.milliseconds($0)) ms" } ?? "no answer"
            out.append("STUN \(s.server)\(s.relay.map { " (\($0))" } ?? ""): \(rtt)\(s.mapped.map { ", sees us as \($0)" } ?? "")")
        }
        if relays.isEmpty { out.append("relays: none listed") }
        for r in relays {
            let rtt = r.latencyMs.map { "\($0) ms" } ?? "no STUN answer"
            out.append("relay \(r.id): \(rtt), \(r.connected ? "connected" : "not connected")\(r.home ? ", home" : "")")
        }
        out.append("preferred relay: \(preferredRelay ?? "none")")
        return out
    }
}
