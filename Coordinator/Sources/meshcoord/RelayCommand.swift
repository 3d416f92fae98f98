import ArgumentParser
import CoordinatorServer
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

// MARK: relay

/// `meshcoord relay`: an extra relay (with STUN) on another host.
struct RelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "Run a relay (and STUN) on another host, for nodes to fail over to.",
        discussion: """
            On the relay host: `meshcoord relay --print-key` prints the relay's public key (creating \
            <state dir>/relay.key, 0600, on first use). Add it to the coordinator's config as a [[relay]] table \
            (id, url = "http://<this host>:<port>/relay", or https:// with --tls-cert/--tls-key, stun_ports, key) and restart \
            the coordinator; then \
            run `meshcoord relay --coordinator URL --coordinator-key KEY`, with the coordinator_key from the \
            coordinator's start-up log. The relay admits only the nodes the coordinator lists for its key: \
            nobody until the first list, the last list while the coordinator is unreachable. \
            Logs go to stderr; SIGTERM or SIGINT stop it cleanly.
            """)

    @Option(name: .long, help: "State directory holding relay.key (default /var/lib/meshrelay).")
    var stateDir: String = "/var/lib/meshrelay"
    @Option(name: .long, help: "HTTP listen address HOST:PORT, [IPv6]:PORT or :PORT (default 0.0.0.0:8080).")
    var listen: String = "0.0.0.0:8080"
    @Option(name: .long, help: "Two UDP ports for STUN, comma-separated (default 3478,3479), or none.")
    var stunPorts: String = "3478,3479"
    @Option(name: .long, help: "The coordinator's URL (e.g. https://mesh.example.com or http://coord.example.com:8080).")
    var coordinator: String?
    @Option(name: .customLong("ca-file"), help: "PEM file of a private CA to trust, besides the system's roots, for an https:// coordinator.")
    var caFile: String?
    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain: the relay port speaks TLS itself (with --tls-key; SIGHUP reloads both).")
    var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: "PEM private key (unencrypted) of --tls-cert.")
    var tlsKey: String?
    @Option(name: .long, help: "The coordinator's public key (base64; coordinator_key in its start-up log).")
    var coordinatorKey: String?
    @Option(name: .long, help: "Seconds one node-list long-poll may take; must exceed the coordinator's keepalive_seconds (default 90).")
    var pollTimeout: Double = 90
    @Option(name: .long, help: "Open connections at most (default: from the file descriptor limit).")
    var maxConnections: Int?
    @Option(name: .long, help: "Open connections from one source address (IPv6: one /64) at most (default 64).")
    var maxConnectionsPerSource: Int = 64
    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"
    @Flag(name: .long, help: "Print the relay's public key (for the coordinator's [[relay]] key) and exit; creates the key if needed.")
    var printKey = false

    func run() async throws {
        try await reportingErrors {
            guard let level = Logger.Level(rawValue: logLevel) else {
                throw CommandFailure("log level \"\(logLevel)\" must be one of trace, debug, info, notice, warning, error, critical")
            }
            LoggingSystem.bootstrap { label in
                var h = StreamLogHandler.standardError(label: label)
                h.logLevel = level
                return h
            }
            var logger = Logger(label: "meshcoord.relay")
            logger.logLevel = level
            // The key file and lock are private to this user.
            umask(0o077)
            if printKey {
                print(try StandaloneRelay.publicKey(stateDirectory: stateDir, logger: logger))
                return
            }
            var c = StandaloneRelayConfig()
            c.stateDirectory = stateDir
            (c.listenHost, c.listenPort) = try CoordinatorConfig.parseListen(listen)
            c.stunPorts = try CoordinatorConfig.parsePorts(stunPorts)
            c.coordinatorURL = coordinator ?? ""
            c.coordinatorKey = coordinatorKey ?? ""
            c.caFile = caFile
            c.tlsCertificateFile = tlsCert
            c.tlsKeyFile = tlsKey
            c.pollTimeoutSeconds = pollTimeout
            c.maxConnections = maxConnections
            c.maxConnectionsPerSource = maxConnectionsPerSource
            try c.validate()
            let relay = try StandaloneRelay(config: c, logger: logger)
            try await relay.run()
        }
    }
}
