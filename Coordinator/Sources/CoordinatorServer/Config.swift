import CheckedArithmetic
import Foundation
import MeshConfig
import MeshCrypto
import MeshWire

/// `meshcoord serve` settings: defaults, then the config file, then command-line flags.
///
/// The config file is TOML (the subset below: `key = value` lines, strings, integers, numbers,
/// booleans, one-line arrays, `#` comments, and `[[relay]]` tables):
///
///     state_dir = "/var/lib/meshcoord"
///     listen = "0.0.0.0:8080"
///     public_url = "http://coord.example.com:8080"
///     stun_ports = [3478, 3479]
///     stun_listen = "::"                     # STUN's address (default: the listen host)
///     ipv4_prefix = "100.64.0.0/10"
///     ipv6_prefix = "fd7a:115c:a1e0::/48"   # default: a random ULA /48 chosen at first start
///     relay_id = "default"                   # the id of the coordinator's own relay
///     tls_cert = "/etc/letsencrypt/live/coord.example.com/fullchain.pem"   # TLS on `listen`
///     tls_key = "/etc/letsencrypt/live/coord.example.com/privkey.pem"      # (both or neither)
///     [[relay]]
///     id = "fra"
///     url = "http://fra.example.com:8080/relay"
///     stun_ports = [3478, 3479]
///     key = "<base64 public key>"            # `meshcoord relay --print-key` on that host
///
/// The coordinator always serves a relay on its own port, and it is always the first relay
/// nodes are given. Each `[[relay]]` table adds a relay on another host (`meshcoord relay`),
/// so nodes have somewhere to fail over to. Its `key` is required: nodes pin it, so whoever
/// answers at `url` without the private half is refused, and the coordinator tells only that
/// key which nodes to admit (`POST /v1/relay/nodes`).
public struct CoordinatorConfig: Sendable, Equatable {
    public var stateDirectory = "/var/lib/meshcoord"
    public var listenHost = "0.0.0.0"
    public var listenPort = 8080
    /// The URL nodes use to reach this coordinator (goes into join tokens). Default:
    /// http://<listen host or this machine's hostname>:<port>.
    public var publicURL: String?
    public var stunPorts: [Int] = [3478, 3479]
    /// The address STUN binds (an IP literal); nil: the listen host. A wildcard (0.0.0.0 or
    /// ::) answers on every address of both families (one dual-stack socket per port), so
    /// dual-stack nodes learn their IPv6 endpoint too. A coordinator behind a proxy that
    /// listens on 127.0.0.1 sets it to a public address or a wildcard.
    public var stunHost: String?
    /// Where STUN binds: `stunHost`, else the listen host.
    public var effectiveSTUNHost: String { stunHost ?? listenHost }
    /// PEM certificate chain and private key: when both are set the node API port speaks TLS
    /// itself (no reverse proxy needed); SIGHUP reloads them (`ReloadableServerTLS`).
    public var tlsCertificateFile: String?
    public var tlsKeyFile: String?
    public var ipv4Prefix: String?
    public var ipv6Prefix: String?
    /// Default: `<state dir>/admin.sock`.
    public var adminSocket: String?
    /// The id of the coordinator's own relay in the list nodes get (nodes report their home
    /// relay by id, so changing it makes every node's home relay look unknown until it reports again).
    public var relayID = "default"
    /// Relays on other hosts, handed to nodes after the coordinator's own (see `relays(boundPort:coordinatorKey:)`).
    public var relays: [RelayInfo] = []
    /// A waiting map poll answers "no change" after this long.
    public var keepAliveSeconds: Double = 50
    /// A node with no map poll open for this long is shown offline.
    public var offlineAfterSeconds: Double = 60
    public var maxBodyBytes = 64 * 1024
    /// Open connections on the node API port (HTTP and relay) at most; nil: derived from the
    /// file descriptor limit (see `ConnectionCaps.defaultTotal`). Extra connections are closed
    /// at once so descriptors stay free for the database, STUN and the admin socket.
    public var maxConnections: Int?
    /// Open connections from one source address (an IPv6 /64 counts as one source) at most.
    public var maxConnectionsPerSource = 64
    /// Addresses of reverse proxies in front of the node API: every connection through a proxy
    /// comes from its address, so these sources are not held to `maxConnectionsPerSource`
    /// (they still count toward `maxConnections`).
    public var trustedProxies: [String] = []
    public static let maxTrustedProxies = 64
    /// A connection must deliver a complete request head within this long (and its body
    /// within `idleTimeoutSeconds` more).
    public var requestHeadTimeoutSeconds: Double = 10
    /// An idle keep-alive connection (between requests) is closed after this long.
    /// A waiting map poll is not idle: it is held up to `keepAliveSeconds`.
    public var idleTimeoutSeconds: Double = 30
    /// An upgraded relay connection must prove its node key within this long.
    public var relayHandshakeTimeoutSeconds: Double = 4
    /// DNS suffix for node names.
    public var domain = "mesh"
    /// MagicDNS names besides the nodes' (`extra_records`, see ExtraRecordsConfig.swift).
    public var extraRecords: [DNSExtraRecord] = []
    /// SQLite `synchronous`: true = FULL (survives power loss), false = NORMAL.
    public var synchronousFull = true
    public var logLevel = "info"

    public init() {}

    public var adminSocketPath: String {
        adminSocket ?? (stateDirectory as NSString).appendingPathComponent("admin.sock")
    }

    public var effectivePublicURL: String { publicURL(boundPort: nil) }

    /// The public URL; without `public_url`, built from the listen address and the port
    /// actually bound (which differs from `listenPort` when that is 0).
    public func publicURL(boundPort: Int?) -> String {
        if let u = publicURL { return u }
        let listenPort = boundPort ?? self.listenPort
        var host = listenHost
        if host == "0.0.0.0" || host == "::" || host.isEmpty {
            host = ProcessInfo.processInfo.hostName
        }
        if host.contains(":") { host = "[\(host)]" }
        return "\(tlsCertificateFile == nil ? "http" : "https")://\(host):\(listenPort)"
    }

    /// The relay this coordinator serves on its own port, keyed with `coordinatorKey` (base64).
    /// It advertises STUN only when STUN runs (it needs two ports).
    public func ownRelay(boundPort: Int?, coordinatorKey: String) -> RelayInfo {
        var base = publicURL(boundPort: boundPort)
        while base.hasSuffix("/") { base.removeLast() }
        return RelayInfo(id: relayID, name: "coordinator", url: base + "/relay", stunHost: nil,
                         stunPorts: stunPorts.count == 2 ? stunPorts : [], key: coordinatorKey)
    }

    /// The relays handed to nodes: the coordinator's own first, then the `[[relay]]` extras.
    /// An extra at the own relay's URL is left out (configs written when the list was "the
    /// configured relays or the coordinator" named the coordinator itself), and so is one whose
    /// id came earlier (`validate()` already refuses that; this keeps ids unique regardless).
    public func relays(boundPort: Int?, coordinatorKey: String) -> [RelayInfo] {
        let own = ownRelay(boundPort: boundPort, coordinatorKey: coordinatorKey)
        var list = [own]
        var ids: Set<String> = [own.id]
        for extra in relays where !Self.sameURL(extra.url, own.url) && ids.insert(extra.id).inserted {
            list.append(extra)
        }
        return list
    }

    /// The extras `relays(boundPort:coordinatorKey:)` leaves out because they are at the
    /// coordinator's own relay URL (worth a log line at start).
    public func extrasAtOwnURL(boundPort: Int?) -> [RelayInfo] {
        let own = ownRelay(boundPort: boundPort, coordinatorKey: "")
        return relays.filter { Self.sameURL($0.url, own.url) }
    }

    static func sameURL(_ a: String, _ b: String) -> Bool {
        func trimmed(_ s: String) -> Substring {
            var t = Substring(s)
            while t.hasSuffix("/") { t = t.dropLast() }
            return t
        }
        return trimmed(a).lowercased() == trimmed(b).lowercased()
    }

    /// The base64 keys of the `[[relay]]` extras, canonical (what `Base64.encode` gives), for
    /// recognising a relay's sealed requests.
    public var extraRelayKeys: Set<String> { Set(relays.compactMap { $0.key.flatMap(Self.canonicalRelayKey) }) }

    /// The key in canonical base64 when `text` is a usable X25519 public key (32 bytes, not a
    /// low-order point, with which no sealed request could be opened), else nil.
    public static func canonicalRelayKey(_ text: String) -> String? {
        guard let raw = Base64.decode(text.trimmingCharacters(in: .whitespaces)), raw.count == 32,
              let key = try? PublicKey(rawBytes: raw), let probe = try? PrivateKey(rawBytes: [UInt8](repeating: 1, count: 32)),
              Box.SharedKey(peer: key, own: probe) != nil else { return nil }
        return Base64.encode(raw)
    }

    static let relayKeyHelp = "the relay's public key, which nodes pin; run `meshcoord relay --print-key` " +
        "(with the relay's --state-dir) on the relay's host to print it"

    /// Why `id` cannot be a relay id (nodes report their home relay by id: 1-64 printable
    /// characters), or nil when it can.
    static func relayIDProblem(_ id: String) -> String? {
        if id.isEmpty || id.count > 64 { return "must be 1-64 characters" }
        if !TerminalText.isClean(id) || id.contains(" ") { return "must be printable characters without spaces" }
        return nil
    }

    public struct ConfigError: Error, CustomStringConvertible {
        public let description: String
        public init(_ d: String) { description = d }
    }

    /// "HOST:PORT", "[v6]:PORT" or ":PORT".
    public static func parseListen(_ s: String) throws -> (String, Int) {
        var host: String, portText: Substring
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]"), s[s.index(after: close)...].hasPrefix(":") else {
                throw ConfigError("listen address \"\(s)\" must look like HOST:PORT, [IPv6]:PORT or :PORT")
            }
            host = String(s[s.index(after: s.startIndex)..<close])
            portText = s[s.index(close, offsetBy: 2)...]
        } else {
            guard let colon = s.lastIndex(of: ":") else {
                throw ConfigError("listen address \"\(s)\" must look like HOST:PORT, [IPv6]:PORT or :PORT")
            }
            host = String(s[..<colon])
            portText = s[s.index(after: colon)...]
        }
        if host.isEmpty { host = "0.0.0.0" }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw ConfigError("listen address \"\(s)\": port must be a number 0-65535")
        }
        return (host, port)
    }

    public static func parsePorts(_ s: String) throws -> [Int] {
        if s.trimmingCharacters(in: .whitespaces).isEmpty || s == "none" || s == "off" { return [] }
        return try s.split(separator: ",").map {
            guard let p = Int($0.trimmingCharacters(in: .whitespaces)), (0...65535).contains(p) else {
                throw ConfigError("STUN ports \"\(s)\" must be a comma-separated list of ports (e.g. 3478,3479), or \"none\"")
            }
            return p
        }
    }

    /// The allowed range of every numeric setting, with the config key and flag that set it.
    /// Values from a file or a flag are checked here (never converted with a trapping `Int(_:)`).
    public static let numericRanges: [(key: String, flag: String?, range: ClosedRange<Double>)] = [
        ("keepalive_seconds", "--keepalive", 0.1...600),
        ("offline_after_seconds", "--offline-after", 1...86_400),
        ("max_body_bytes", "--max-body-bytes", 1024...(16 * 1024 * 1024)),
        ("max_connections", "--max-connections", 1...1_000_000),
        ("max_connections_per_source", "--max-connections-per-source", 1...1_000_000),
        ("request_head_timeout_seconds", nil, 1...600),
        ("idle_timeout_seconds", nil, 1...3600),
        ("relay_handshake_timeout_seconds", nil, 1...60),
    ]

    static func range(of key: String) -> ClosedRange<Double> {
        numericRanges.first { $0.key == key }!.range
    }

    static func describeRange(_ key: String) -> String {
        let entry = numericRanges.first { $0.key == key }!
        let r = entry.range
        let name = entry.flag.map { "\(key) (\($0))" } ?? key
        return "\(name) must be a number from \(Self.plain(r.lowerBound)) to \(Self.plain(r.upperBound))"
    }

    static func plain(_ d: Double) -> String {
        if let i = Int64(checkedRounding: d), Double(i) == d { return String(i) }
        return String(d)
    }

    static func checkRange(_ key: String, _ value: Double) throws {
        guard value.isFinite, range(of: key).contains(value) else {
            throw ConfigError("\(describeRange(key)), not \(value)")
        }
    }

    /// Checks every value: fixed forms (URL, ports, domain) and the range of every number.
    /// Each error names the setting.
    public func validate() throws {
        if let u = publicURL, !(u.hasPrefix("http://") || u.hasPrefix("https://")) || u.count < 9 {
            throw ConfigError("public_url \"\(u)\" must start with http:// or https://")
        }
        try Self.checkRange("keepalive_seconds", keepAliveSeconds)
        try Self.checkRange("offline_after_seconds", offlineAfterSeconds)
        try Self.checkRange("max_body_bytes", Double(maxBodyBytes))
        if let m = maxConnections { try Self.checkRange("max_connections", Double(m)) }
        try Self.checkRange("max_connections_per_source", Double(maxConnectionsPerSource))
        guard trustedProxies.count <= Self.maxTrustedProxies else {
            throw ConfigError("trusted_proxies lists \(trustedProxies.count) addresses; at most \(Self.maxTrustedProxies)")
        }
        for a in trustedProxies where !Self.isIPAddress(a) {
            throw ConfigError("trusted_proxies: \"\(TerminalText.escaped(String(a.prefix(80))))\" is not an IPv4 or IPv6 address")
        }
        try Self.checkRange("request_head_timeout_seconds", requestHeadTimeoutSeconds)
        try Self.checkRange("idle_timeout_seconds", idleTimeoutSeconds)
        try Self.checkRange("relay_handshake_timeout_seconds", relayHandshakeTimeoutSeconds)
        guard (0...65535).contains(listenPort) else { throw ConfigError("listen port must be 0-65535, not \(listenPort)") }
        if let h = stunHost, !Self.isIPAddress(h) {
            throw ConfigError("stun_listen: \"\(TerminalText.escaped(String(h.prefix(80))))\" is not an IPv4 or IPv6 address (0.0.0.0 or :: for all)")
        }
        for p in stunPorts where !(0...65535).contains(p) { throw ConfigError("stun_ports must be ports 0-65535, not \(p)") }
        guard Set(stunPorts.filter { $0 != 0 }).count == stunPorts.filter({ $0 != 0 }).count else { throw ConfigError("stun_ports lists a port twice") }
        if let problem = Self.domainProblem(domain) {
            throw ConfigError("domain \"\(domain.prefix(80))\" is not a DNS name: \(problem)")
        }
        _ = try Self.extraRecords(parsing: extraRecords.map { "\($0.name) \($0.type) \($0.value)" })
        try validateRelays()
        try Self.validateTLSFiles(certificate: tlsCertificateFile, key: tlsKeyFile, certificateName: "tls_cert (--tls-cert)",
                                  keyName: "tls_key (--tls-key)")
    }

    /// Both files or neither, and no empty path. (Their contents are checked when the listener
    /// is set up: `ReloadableServerTLS`.)
    public static func validateTLSFiles(certificate: String?, key: String?, certificateName: String, keyName: String) throws {
        switch (certificate, key) {
        case (nil, nil): return
        case (.some, nil): throw ConfigError("\(certificateName) is set but \(keyName) is not: TLS needs both the certificate chain and its key")
        case (nil, .some): throw ConfigError("\(keyName) is set but \(certificateName) is not: TLS needs both the certificate chain and its key")
        case (let c?, let k?):
            guard !c.isEmpty else { throw ConfigError("\(certificateName) must not be empty") }
            guard !k.isEmpty else { throw ConfigError("\(keyName) must not be empty") }
        }
    }

    /// `relay_id` and every `[[relay]]`: ids unique (the own relay's included), http(s) URLs,
    /// and a usable `key` in each.
    func validateRelays() throws {
        if let problem = Self.relayIDProblem(relayID) {
            throw ConfigError("relay_id \"\(TerminalText.escaped(String(relayID.prefix(80))))\" \(problem)")
        }
        var ids: Set<String> = [relayID]
        for r in relays {
            let id = TerminalText.escaped(String(r.id.prefix(80)))
            if let problem = Self.relayIDProblem(r.id) { throw ConfigError("[[relay]] id \"\(id)\" \(problem)") }
            guard ids.insert(r.id).inserted else {
                throw ConfigError(r.id == relayID
                    ? "[[relay]] id \"\(id)\" is the id of the coordinator's own relay (relay_id); give the extra relay another id"
                    : "[[relay]] id \"\(id)\" is used by two [[relay]] tables; relay ids must be unique")
            }
            guard r.url.hasPrefix("http://") || r.url.hasPrefix("https://") else {
                throw ConfigError("[[relay]] \"\(id)\" needs url = \"http://...\"")
            }
            guard let key = r.key else {
                throw ConfigError("[[relay]] \"\(id)\" needs key = \"<base64 public key>\": \(Self.relayKeyHelp)")
            }
            guard Self.canonicalRelayKey(key) != nil else {
                throw ConfigError("[[relay]] \"\(id)\": key is not a base64 32-byte X25519 public key: \(Self.relayKeyHelp)")
            }
        }
    }

    /// Why `name` is not a DNS suffix for node names (labels of a-z, 0-9 and '-', 1-63
    /// characters, not starting or ending with '-', 253 characters in all), or nil when it is.
    /// Node names are `<node>.<domain>` in the nodes' resolvers, so anything else (say
    /// "../../etc") would end up in files and DNS answers.
    public static func domainProblem(_ name: String) -> String? {
        guard !name.isEmpty else { return "it is empty" }
        guard name.utf8.count <= 253 else { return "it is longer than 253 characters" }
        for label in name.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty else { return "it has an empty label (a leading, trailing or double dot)" }
            guard label.utf8.count <= 63 else { return "label \"\(label.prefix(20))...\" is longer than 63 characters" }
            guard label.utf8.allSatisfy({ (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D }) else {
                return "labels may only use a-z, 0-9 and '-' (lowercase)"
            }
            guard label.first != "-", label.last != "-" else { return "a label starts or ends with '-'" }
        }
        return nil
    }

    /// An IPv4 or IPv6 literal (no brackets, no port, no zone).
    static func isIPAddress(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 45 else { return false }
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, s, &v4) == 1 || inet_pton(AF_INET6, s, &v6) == 1
    }

    // MARK: Config file

    static let knownKeys = ["state_dir", "listen", "public_url", "stun_ports", "ipv4_prefix", "ipv6_prefix",
                            "admin_socket", "keepalive_seconds", "offline_after_seconds", "max_body_bytes",
                            "max_connections", "max_connections_per_source", "request_head_timeout_seconds",
                            "idle_timeout_seconds", "relay_handshake_timeout_seconds",
                            "domain", "sync", "log_level", "relay_id", "trusted_proxies", "tls_cert", "tls_key", "stun_listen",
                            "extra_records"]
    static let relayKeys = ["id", "name", "url", "stun_host", "stun_ports", "key"]

    /// Applies a TOML config file on top of `self`. Errors name the file, line and key.
    /// The lines are read by `TOMLLines` (as meshd's file is): a key given twice in one table
    /// is an error, a UTF-8 byte order mark at the start is skipped.
    public mutating func apply(configText: String, file: String) throws {
        var relay: [String: (TOMLValue, Int)]? = nil
        var relayLine = 0
        var relays: [RelayInfo] = []

        func finishRelay() throws {
            guard let r = relay else { return }
            let at = "\(file):\(relayLine)"
            guard case .string(let id)? = r["id"]?.0 else {
                throw ConfigError("\(at): a [[relay]] table needs id = \"...\"")
            }
            let shownID = TerminalText.escaped(String(id.prefix(80)))
            if let problem = Self.relayIDProblem(id) {
                throw ConfigError("\(file):\(r["id"]!.1): [[relay]] id \"\(shownID)\" \(problem)")
            }
            if id == relayID {
                throw ConfigError("\(file):\(r["id"]!.1): [[relay]] id \"\(shownID)\" is the id of the coordinator's own relay " +
                                  "(relay_id); give the extra relay another id")
            }
            if relays.contains(where: { $0.id == id }) {
                throw ConfigError("\(file):\(r["id"]!.1): [[relay]] id \"\(shownID)\" is used by an earlier [[relay]] table; " +
                                  "relay ids must be unique")
            }
            guard case .string(let url)? = r["url"]?.0, url.hasPrefix("http://") || url.hasPrefix("https://") else {
                throw ConfigError("\(at): [[relay]] \"\(shownID)\" needs url = \"http://...\"")
            }
            guard let (keyValue, keyLine) = r["key"] else {
                throw ConfigError("\(at): [[relay]] \"\(shownID)\" needs key = \"<base64 public key>\": \(Self.relayKeyHelp) " +
                                  "(a [[relay]] for this coordinator itself is not needed: its own relay is always the first)")
            }
            guard let key = Self.canonicalRelayKey(try keyValue.string(file, keyLine, "key")) else {
                throw ConfigError("\(file):\(keyLine): [[relay]] \"\(shownID)\": key is not a base64 32-byte X25519 public key: " +
                                  Self.relayKeyHelp)
            }
            var name: String? = nil, stunHost: String? = nil, ports: [Int] = []
            if let (v, line) = r["name"] { name = try v.string(file, line, "name") }
            if let (v, line) = r["stun_host"] { stunHost = try v.string(file, line, "stun_host") }
            if let (v, line) = r["stun_ports"] { ports = try v.ports(file, line, "stun_ports") }
            relays.append(RelayInfo(id: id, name: name, url: url, stunHost: stunHost, stunPorts: ports, key: key))
        }

        do { try TOMLLines.read(configText) { line in
            let lineNo = line.lineNumber
            let key: String, valueText: String
            switch line {
            case .table(_, let header):
                guard header == "[[relay]]" else {
                    throw ConfigError("\(file):\(lineNo): unknown section \(TOMLLines.shown(header)) (only [[relay]] tables are allowed)")
                }
                try finishRelay()
                relay = [:]
                relayLine = lineNo
                return
            case .entry(_, let k, let v): (key, valueText) = (k, v)
            }
            let value: TOMLValue
            do { value = try TOMLValue.parse(valueText) } catch let e as TOMLValue.SyntaxError {
                throw ConfigError("\(file):\(lineNo): \(key): \(e.description)")
            }
            if relay != nil {
                guard Self.relayKeys.contains(key) else {
                    throw ConfigError("\(file):\(lineNo): unknown key \(TOMLLines.shown(key)) in [[relay]] (known: \(Self.relayKeys.joined(separator: ", ")))")
                }
                relay![key] = (value, lineNo)
                return
            }
            switch key {
            case "state_dir": stateDirectory = try value.string(file, lineNo, key)
            case "listen":
                do { (listenHost, listenPort) = try Self.parseListen(try value.string(file, lineNo, key)) } catch let e as ConfigError {
                    throw ConfigError("\(file):\(lineNo): listen: \(e.description)")
                }
            case "public_url": publicURL = try value.string(file, lineNo, key)
            case "stun_ports": stunPorts = try value.ports(file, lineNo, key)
            case "stun_listen": stunHost = try value.string(file, lineNo, key)
            case "tls_cert": tlsCertificateFile = try value.string(file, lineNo, key)
            case "tls_key": tlsKeyFile = try value.string(file, lineNo, key)
            case "ipv4_prefix": ipv4Prefix = try value.string(file, lineNo, key)
            case "ipv6_prefix": ipv6Prefix = try value.string(file, lineNo, key)
            case "admin_socket": adminSocket = try value.string(file, lineNo, key)
            case "keepalive_seconds": keepAliveSeconds = try value.seconds(file, lineNo, key)
            case "offline_after_seconds": offlineAfterSeconds = try value.seconds(file, lineNo, key)
            case "max_body_bytes": maxBodyBytes = try value.integer(file, lineNo, key)
            case "max_connections": maxConnections = try value.integer(file, lineNo, key)
            case "max_connections_per_source": maxConnectionsPerSource = try value.integer(file, lineNo, key)
            case "trusted_proxies": trustedProxies = try value.strings(file, lineNo, key)
            case "request_head_timeout_seconds": requestHeadTimeoutSeconds = try value.seconds(file, lineNo, key)
            case "idle_timeout_seconds": idleTimeoutSeconds = try value.seconds(file, lineNo, key)
            case "relay_handshake_timeout_seconds": relayHandshakeTimeoutSeconds = try value.seconds(file, lineNo, key)
            case "domain": domain = try value.string(file, lineNo, key)
            case "extra_records":
                do { extraRecords = try Self.extraRecords(parsing: try value.strings(file, lineNo, key)) } catch let e as ConfigError {
                    throw ConfigError("\(file):\(lineNo): \(e.description)")
                }
            case "log_level": logLevel = try value.string(file, lineNo, key)
            case "relay_id":
                relayID = try value.string(file, lineNo, key)
                if let problem = Self.relayIDProblem(relayID) {
                    throw ConfigError("\(file):\(lineNo): relay_id \"\(TerminalText.escaped(String(relayID.prefix(80))))\" \(problem)")
                }
            case "sync":
                switch try value.string(file, lineNo, key) {
                case "full": synchronousFull = true
                case "normal": synchronousFull = false
                case let other: throw ConfigError("\(file):\(lineNo): sync must be \"full\" or \"normal\", not \"\(other)\"")
                }
            default:
                throw ConfigError("\(file):\(lineNo): unknown key \(TOMLLines.shown(key)) (known: \(Self.knownKeys.joined(separator: ", ")))")
            }
        } } catch let p as TOMLLines.Problem {
            throw ConfigError("\(file):\(p.lineNumber): \(p.message)")
        }
        try finishRelay()
        if !relays.isEmpty { self.relays = relays }
    }
}

/// The coordinator's typed reads of a config value: errors name the file, line and key, and
/// numbers are held to the key's range.
extension TOMLValue {
    func string(_ file: String, _ line: Int, _ key: String) throws -> String {
        guard case .string(let s) = self else {
            throw CoordinatorConfig.ConfigError("\(file):\(line): \(key) must be a string in quotes")
        }
        return s
    }

    func number(_ file: String, _ line: Int, _ key: String) throws -> Double {
        switch self {
        case .integer(let i): return Double(i)
        case .double(let d): return d
        default: throw CoordinatorConfig.ConfigError("\(file):\(line): \(key) must be a number")
        }
    }

    /// A number of seconds within the key's range (NaN, infinities and 1e300 are refused here,
    /// with the file, line and key, long before anything converts them).
    func seconds(_ file: String, _ line: Int, _ key: String) throws -> Double {
        let d = try number(file, line, key)
        guard d.isFinite, CoordinatorConfig.range(of: key).contains(d) else {
            throw CoordinatorConfig.ConfigError("\(file):\(line): \(CoordinatorConfig.describeRange(key)), not \(Self.show(self))")
        }
        return d
    }

    /// A whole number within the key's range.
    func integer(_ file: String, _ line: Int, _ key: String) throws -> Int {
        let d = try number(file, line, key)
        let r = CoordinatorConfig.range(of: key)
        guard d.isFinite, r.contains(d), d.rounded(.towardZero) == d, let i = Int(checkedRounding: d) else {
            throw CoordinatorConfig.ConfigError("\(file):\(line): \(CoordinatorConfig.describeRange(key)) (a whole number), not \(Self.show(self))")
        }
        return i
    }

    static func show(_ v: TOMLValue) -> String {
        switch v {
        case .integer(let i): return String(i)
        case .double(let d): return String(d)
        default: return "\(v)"
        }
    }

    func strings(_ file: String, _ line: Int, _ key: String) throws -> [String] {
        guard case .array(let items) = self else {
            throw CoordinatorConfig.ConfigError("\(file):\(line): \(key) must be an array of strings, e.g. [\"127.0.0.1\"]")
        }
        return try items.map {
            guard case .string(let s) = $0 else {
                throw CoordinatorConfig.ConfigError("\(file):\(line): \(key) must contain only strings")
            }
            return s
        }
    }

    func ports(_ file: String, _ line: Int, _ key: String) throws -> [Int] {
        guard case .array(let items) = self else {
            throw CoordinatorConfig.ConfigError("\(file):\(line): \(key) must be an array of ports, e.g. [3478, 3479]")
        }
        return try items.map {
            guard case .integer(let p) = $0, (0...65535).contains(p) else {
                throw CoordinatorConfig.ConfigError("\(file):\(line): \(key) must contain port numbers 0-65535")
            }
            return p
        }
    }
}
