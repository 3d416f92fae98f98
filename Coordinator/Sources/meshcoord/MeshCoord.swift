import ArgumentParser
import CheckedArithmetic
import CoordinatorServer
import CoordinatorStore
import Foundation
import Logging
import MeshHTTP
import MeshWire
#if canImport(Glibc)
import Glibc
#endif

@main
struct MeshCoord: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshcoord",
        abstract: "The mesh coordinator: admits nodes, hands out overlay addresses, tells every node where its peers are.",
        discussion: """
            Run `meshcoord serve` on a public host, then `meshcoord authkey create` to get a join token for \
            `meshd up --join TOKEN`. The authkey and node subcommands talk to the running server over its \
            admin socket (<state dir>/admin.sock, mode 0600). `meshcoord relay` runs an extra relay on another host.
            """,
        subcommands: [Serve.self, AuthKeyCommand.self, NodeCommand.self, UserCommand.self, PolicyCommand.self, RelayCommand.self]
    )
}

/// A failure shown as one line, without usage text.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body`; turns any error into "meshcoord: <message>" on stderr and exit status 1.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let e as ExitCode {
        throw e
    } catch {
        FileHandle.standardError.write(Data("meshcoord: \(error)\n".utf8))
        throw ExitCode(1)
    }
}

// MARK: serve

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the coordinator (node API, admin socket, STUN).",
        discussion: """
            Settings come from defaults, then --config FILE (TOML), then flags. On first start it creates the \
            state directory (0700), the coordinator key (coordinator.key, 0600) and the database \
            (meshcoord.sqlite, WAL mode). SIGTERM or SIGINT shut it down cleanly. With --tls-cert and --tls-key the \
            node API port speaks TLS itself; SIGHUP reloads the certificate and key.
            """)

    @Option(name: .long, help: "Config file (TOML; see Coordinator/README-section.md).")
    var config: String?
    @Option(name: .long, help: "State directory (default /var/lib/meshcoord).")
    var stateDir: String?
    @Option(name: .long, help: "HTTP listen address HOST:PORT (default 0.0.0.0:8080).")
    var listen: String?
    @Option(name: .long, help: "Two UDP ports for STUN, comma-separated (default 3478,3479), or none.")
    var stunPorts: String?
    @Option(name: .customLong("stun-listen"), help: "Address STUN binds (default: the --listen host; 0.0.0.0 or :: answer on every address of both families).")
    var stunListen: String?
    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain: the node API port speaks TLS itself (with --tls-key; SIGHUP reloads both).")
    var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: "PEM private key (unencrypted) of --tls-cert.")
    var tlsKey: String?
    @Option(name: .long, help: "URL nodes use to reach this coordinator; goes into join tokens.")
    var publicURL: String?
    @Option(name: .long, help: "Admin socket path (default <state dir>/admin.sock).")
    var adminSocket: String?
    @Option(name: .long, help: "IPv4 overlay prefix (default 100.64.0.0/10).")
    var ipv4Prefix: String?
    @Option(name: .long, help: "IPv6 overlay prefix (default: a random ULA /48 chosen at first start).")
    var ipv6Prefix: String?
    @Option(name: .long, help: "Seconds before a waiting map poll answers \"no change\" (0.1-600, default 50).")
    var keepalive: Double?
    @Option(name: .long, help: "Seconds without a map poll before a node shows offline (1-86400, default 60).")
    var offlineAfter: Double?
    @Option(name: .long, help: "Largest request body in bytes (1024-16777216, default 65536).")
    var maxBodyBytes: Int?
    @Option(name: .long, help: "Open connections on the node API port at most (default: from the file descriptor limit).")
    var maxConnections: Int?
    @Option(name: .long, help: "Open connections from one source address (IPv6: one /64) at most (default 64).")
    var maxConnectionsPerSource: Int?
    @Option(name: .customLong("trusted-proxy"), help: "Address of a reverse proxy in front of the node API, not held to the per-source cap (repeatable).")
    var trustedProxies: [String] = []
    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String?

    func run() async throws {
        try await reportingErrors {
            var c = CoordinatorConfig()
            if let path = config {
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw CommandFailure("cannot read config file \(path)")
                }
                try c.apply(configText: String(decoding: data, as: UTF8.self), file: path)
            }
            if let v = stateDir { c.stateDirectory = v }
            if let v = listen { (c.listenHost, c.listenPort) = try CoordinatorConfig.parseListen(v) }
            if let v = stunPorts { c.stunPorts = try CoordinatorConfig.parsePorts(v) }
            if let v = stunListen { c.stunHost = v }
            if let v = publicURL { c.publicURL = v }
            if let v = tlsCert { c.tlsCertificateFile = v }
            if let v = tlsKey { c.tlsKeyFile = v }
            if let v = adminSocket { c.adminSocket = v }
            if let v = ipv4Prefix { c.ipv4Prefix = v }
            if let v = ipv6Prefix { c.ipv6Prefix = v }
            if let v = keepalive { c.keepAliveSeconds = v }
            if let v = offlineAfter { c.offlineAfterSeconds = v }
            if let v = maxBodyBytes { c.maxBodyBytes = v }
            if let v = maxConnections { c.maxConnections = v }
            if let v = maxConnectionsPerSource { c.maxConnectionsPerSource = v }
            if !trustedProxies.isEmpty { c.trustedProxies = trustedProxies }
            // Every value (file or flag) is range-checked here, before anything converts it.
            try c.validate()
            if let v = logLevel { c.logLevel = v }
            guard let level = Logger.Level(rawValue: c.logLevel) else {
                throw CommandFailure("log level \"\(c.logLevel)\" must be one of trace, debug, info, notice, warning, error, critical")
            }
            let finalConfig = c
            LoggingSystem.bootstrap { label in
                var h = StreamLogHandler.standardError(label: label)
                h.logLevel = level
                return h
            }
            var logger = Logger(label: "meshcoord")
            logger.logLevel = level
            // Everything meshcoord creates (key, database, socket) is private to its user.
            umask(0o077)
            let coordinator = try Coordinator(config: finalConfig, logger: logger)
            logger.info("meshcoord starting", metadata: [
                "state_dir": "\(finalConfig.stateDirectory)", "coordinator_key": "\(coordinator.publicKey.base64)",
                "ipv4_prefix": "\(coordinator.store.ipv4Prefix)", "ipv6_prefix": "\(coordinator.store.ipv6Prefix)",
            ])
            if finalConfig.publicURL == nil {
                logger.notice("public_url is not set; join tokens will carry \(finalConfig.effectivePublicURL) (set --public-url)")
            }
            try await coordinator.run()
        }
    }
}

// MARK: admin client

struct AdminOptions: ParsableArguments {
    @Option(name: .long, help: "State directory of the running server (default /var/lib/meshcoord).")
    var stateDir: String?
    @Option(name: .long, help: "Admin socket path (default <state dir>/admin.sock).")
    var adminSocket: String?
    @Option(name: .long, help: "Config file of the running server (to find its admin socket).")
    var config: String?

    func socketPath() throws -> String {
        if let s = adminSocket { return s }
        var c = CoordinatorConfig()
        if let path = config {
            guard let data = FileManager.default.contents(atPath: path) else { throw CommandFailure("cannot read config file \(path)") }
            try c.apply(configText: String(decoding: data, as: UTF8.self), file: path)
        }
        if let d = stateDir { c.stateDirectory = d; c.adminSocket = nil }
        return c.adminSocketPath
    }

    /// One admin call; decodes the answer or turns an error answer into a clear failure.
    func call<T: Decodable>(_ method: String, _ path: String, body: (some Encodable)? = Optional<String>.none,
                            as type: T.Type) async throws -> T {
        let raw = try await callRaw(method, path, body: body)
        do {
            return try JSONDecoder().decode(T.self, from: Data(raw))
        } catch {
            throw CommandFailure("unexpected answer from the server: \(String(decoding: raw.prefix(200), as: UTF8.self))")
        }
    }

    func callRaw(_ method: String, _ path: String, body: (some Encodable)? = Optional<String>.none) async throws -> [UInt8] {
        let socket = try socketPath()
        let payload = try body.map { Array(try JSONEncoder().encode($0)) }
        let response: SimpleHTTPClient.Response
        do {
            response = try await SimpleHTTPClient.request(.unix(path: socket), method: method, path: path, body: payload,
                                                          timeout: .seconds(30))
        } catch {
            throw CommandFailure(Self.explainConnect(error, socket: socket))
        }
        guard (200..<300).contains(response.status) else {
            if let e = try? JSONDecoder().decode(ErrorBody.self, from: Data(response.body)) {
                throw CommandFailure(e.error)
            }
            throw CommandFailure("the server answered HTTP \(response.status): \(response.text.prefix(200))")
        }
        return response.body
    }

    static func explainConnect(_ error: any Error, socket: String) -> String {
        let text = "\(error)"
        if !FileManager.default.fileExists(atPath: socket) || text.contains("No such file") || text.contains("ENOENT") {
            return "meshcoord is not running (no admin socket at \(socket)); start it with `meshcoord serve`, " +
                "or point to it with --state-dir or --admin-socket"
        }
        if text.contains("Connection refused") || text.contains("ECONNREFUSED") {
            return "meshcoord is not running (admin socket \(socket) does not answer); start it with `meshcoord serve`"
        }
        if text.contains("Permission denied") || text.contains("EACCES") {
            return "cannot open the admin socket \(socket): permission denied (run as the user that runs meshcoord serve, e.g. with sudo)"
        }
        return "cannot reach meshcoord at \(socket): \(text)"
    }
}

/// "24h", "90m", "7d", "1h30m", "45s"; "0" or "never" → nil.
func parseDuration(_ s: String) throws -> Int64? {
    if s == "0" || s == "never" { return nil }
    var total: Int64 = 0
    var number = ""
    var sawUnit = false
    for ch in s {
        if ch.isNumber { number.append(ch); continue }
        guard let n = Int64(number) else { throw CommandFailure("duration \"\(s)\" must look like 24h, 90m, 7d or 1h30m") }
        let unit: Int64
        switch ch {
        case "s": unit = 1
        case "m": unit = 60
        case "h": unit = 3600
        case "d": unit = 86400
        case "w": unit = 7 * 86400
        default: throw CommandFailure("duration \"\(s)\": unknown unit \"\(ch)\" (use s, m, h, d, w)")
        }
        // Saturating: "99999999999999999w" is a typo to report, not a reason to trap.
        total = total.saturatingAdding(n.saturatingMultiplied(by: unit))
        guard total <= AdminCreateAuthKeyRequest.maxExpirySeconds else {
            throw CommandFailure("duration \"\(s)\" is longer than \(AdminCreateAuthKeyRequest.maxExpirySeconds / 86400 / 365) years")
        }
        number = ""
        sawUnit = true
    }
    guard number.isEmpty, sawUnit, total > 0 else {
        throw CommandFailure("duration \"\(s)\" must look like 24h, 90m, 7d or 1h30m (a unit is required)")
    }
    return total
}

// MARK: authkey

struct AuthKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "authkey", abstract: "Make, list and revoke auth keys (join tokens).",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make an auth key and print its join token (for `meshd up --join TOKEN`).")
        @OptionGroup var admin: AdminOptions
        @Flag(name: .long, help: "Let the key admit any number of nodes (default: one).")
        var reusable = false
        @Option(name: .long, help: "How long the key stays usable: 24h, 7d, 90m, or never (default 24h).")
        var expiry: String = "24h"
        @Option(name: .long, help: "A tag for nodes joining with this key (repeatable).")
        var tag: [String] = []
        @Option(name: .long, help: "Tags for nodes joining with this key, comma-separated (tag:db,tag:web).")
        var tags: String?
        @Option(name: .long, help: "The user nodes joining with this key belong to (see `meshcoord user`).")
        var user: String?
        @Option(name: .long, help: "A note for `authkey list`.")
        var description: String?
        @Flag(name: .long, help: "Print the whole answer as JSON.")
        var json = false

        func run() async throws {
            try await reportingErrors {
                let seconds = try parseDuration(expiry)
                let allTags = tag + (tags ?? "").split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
                    .filter { !$0.isEmpty }
                let req = AdminCreateAuthKeyRequest(reusable: reusable, expirySeconds: seconds ?? 0, tags: allTags,
                                                    description: description, user: user)
                if json {
                    print(String(decoding: try await admin.callRaw("POST", "/v1/authkeys", body: req), as: UTF8.self), terminator: "")
                    return
                }
                let r = try await admin.call("POST", "/v1/authkeys", body: req, as: AdminCreateAuthKeyResponse.self)
                let k = r.authKey
                var summary = "auth key \(k.id): \(k.reusable ? "reusable" : "single-use"), "
                summary += k.expiresAt.map { "expires \($0)" } ?? "never expires"
                if let u = k.user { summary += ", user \(u)" }
                if !k.tags.isEmpty { summary += ", tags \(k.tags.joined(separator: ","))" }
                FileHandle.standardError.write(Data("\(summary)\njoin with: meshd up --join <token below>\n".utf8))
                print(r.token)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List auth keys (secrets are never shown again).")
        @OptionGroup var admin: AdminOptions
        @Flag(name: .long, help: "Print JSON.")
        var json = false

        func run() async throws {
            try await reportingErrors {
                if json {
                    print(String(decoding: try await admin.callRaw("GET", "/v1/authkeys"), as: UTF8.self), terminator: "")
                    return
                }
                let keys = try await admin.call("GET", "/v1/authkeys", as: [AdminAuthKey].self)
                let rows = keys.map { k in
                    [String(k.id), k.state, k.reusable ? "reusable" : "single-use", String(k.usedCount),
                     k.expiresAt ?? "never", k.createdAt, k.tags.joined(separator: ","), k.description ?? ""]
                }
                print(renderTable(["ID", "STATE", "KIND", "USED", "EXPIRES", "CREATED", "TAGS", "DESCRIPTION"], rows))
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an auth key: it admits no more nodes.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Auth key id (from `authkey list`).")
        var id: Int64

        func run() async throws {
            try await reportingErrors {
                let k = try await admin.call("POST", "/v1/authkeys/\(id)/revoke", as: AdminAuthKey.self)
                print("auth key \(k.id) revoked")
            }
        }
    }
}

// MARK: node

struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node", abstract: "List, rename, expire and remove nodes.",
        subcommands: [List.self, Rename.self, Tag.self, Expire.self, Remove.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List nodes.")
        @OptionGroup var admin: AdminOptions
        @Flag(name: .long, help: "Print JSON.")
        var json = false

        func run() async throws {
            try await reportingErrors {
                if json {
                    print(String(decoding: try await admin.callRaw("GET", "/v1/nodes"), as: UTF8.self), terminator: "")
                    return
                }
                let nodes = try await admin.call("GET", "/v1/nodes", as: [AdminNode].self)
                let rows = nodes.map { n in
                    [String(n.id), n.name, n.ipv4, n.ipv6, n.state, n.online ? "yes" : "no", n.lastSeen ?? "never",
                     n.os, n.user ?? "", n.tags.joined(separator: ",")]
                }
                print(renderTable(["ID", "NAME", "IPV4", "IPV6", "STATE", "ONLINE", "LAST SEEN", "OS", "USER", "TAGS"], rows))
            }
        }
    }

    struct Rename: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give a node a new (unique) name.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Node id (from `node list`).") var id: Int64
        @Argument(help: "New name: lowercase letters, digits and '-'.") var name: String

        func run() async throws {
            try await reportingErrors {
                let n = try await admin.call("POST", "/v1/nodes/\(id)/rename", body: AdminRenameRequest(name: name), as: AdminNode.self)
                print("node \(n.id) is now \(n.name)")
            }
        }
    }

    struct Tag: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a node's tags (comma-separated, e.g. tag:db,tag:web), or clear them with --clear.",
            discussion: "With a policy set, each tag must be defined in its tagOwners. A tagged node is its tags only: it no longer acts as its user's node.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Node id.") var id: Int64
        @Argument(help: "Tags, comma-separated.") var tags: String?
        @Flag(name: .long, help: "Remove every tag.") var clear = false

        func run() async throws {
            try await reportingErrors {
                guard clear != (tags != nil) else { throw CommandFailure("give either tags (tag:a,tag:b) or --clear") }
                let list = (tags ?? "").split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                let n = try await admin.call("POST", "/v1/nodes/\(id)/tags", body: AdminSetTagsRequest(tags: list), as: AdminNode.self)
                print("node \(n.id) (\(n.name)) tags: \(n.tags.isEmpty ? "none" : n.tags.joined(separator: ","))")
            }
        }
    }

    struct Expire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Expire a node: it leaves every netmap and must join again with an auth key (keeping its addresses).")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Node id.") var id: Int64

        func run() async throws {
            try await reportingErrors {
                let n = try await admin.call("POST", "/v1/nodes/\(id)/expire", as: AdminNode.self)
                print("node \(n.id) (\(n.name)) expired")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a node for good (its addresses are never handed out again).")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Node id.") var id: Int64

        func run() async throws {
            try await reportingErrors {
                let n = try await admin.call("DELETE", "/v1/nodes/\(id)", as: AdminNode.self)
                print("node \(n.id) (\(n.name)) removed")
            }
        }
    }
}
