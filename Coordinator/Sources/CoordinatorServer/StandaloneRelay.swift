import CheckedArithmetic
import CSodium
import Foundation
import Hummingbird
import Logging
import MeshCrypto
import MeshWire
import NIOCore
import NIOPosix
import Relay
import RelayIO
import ServiceLifecycle
import Synchronization
import UnixSignals
#if canImport(Glibc)
import Glibc
import MeshTLS
#endif

/// `meshcoord relay`: a relay (and STUN) on a host other than the coordinator's, so nodes have
/// a second relay to fail over to. It serves `RelayService` on its HTTP port behind the same
/// connection caps, request deadlines and handshake timeout as the coordinator's node port
/// (`RelaySharingHTTP1Channel`), and admits exactly the nodes the coordinator lists for its
/// key (`RelayNodesPoller`): nobody before the first list, the last good list while the
/// coordinator is unreachable. SIGTERM/SIGINT stop it cleanly.
public final class StandaloneRelay: Sendable {
    public static let keyFileName = "relay.key"
    public static let lockFileName = "meshrelay.lock"
    static let keyFile = ServerStateDirectory.KeyFile(
        fileName: keyFileName, what: "relay key",
        ifCorrupted: "restore it from a backup, or move it away and put the new key (meshcoord relay --print-key) " +
            "into this relay's [[relay]] table in the coordinator's config")

    public let config: StandaloneRelayConfig
    public let publicKeyBase64: String
    public let relay: RelayService
    public let admission = SharedRelayAdmission()
    public let gate: ConnectionGate
    public let stun: STUNServer?
    /// TLS on the relay's port when `--tls-cert`/`--tls-key` are given; SIGHUP reloads it.
    public let tls: ReloadableServerTLS?
    let poller: RelayNodesPoller
    let logger: Logger
    private let listening = ListeningPort()
    private let group = Mutex<ServiceGroup?>(nil)
    private let lockFD: Mutex<Int32>

    /// Prepares and locks the state dir (creating it and the relay key on first start).
    /// Throws `StartupError`/`ConfigError` with a clear message.
    public init(config: StandaloneRelayConfig, logger: Logger = Logger(label: "meshcoord.relay")) throws {
        _ = Sodium.isReady
        try config.validate()
        self.config = config
        self.logger = logger
        let limit = FileDescriptorLimit.raiseSoftToHard()
        let allowed = ConnectionCaps.defaultTotal(fileDescriptorLimit: limit.soft)
        let total = min(config.maxConnections ?? allowed, allowed)
        if let asked = config.maxConnections, asked > allowed {
            logger.warning("--max-connections \(asked) does not fit the file descriptor limit \(limit.soft); using \(allowed)")
        }
        gate = ConnectionGate(total: total, perSource: config.maxConnectionsPerSource,
                              headTimeout: Coordinator.timeAmount(config.requestHeadTimeoutSeconds, default: 10),
                              logger: Self.child(logger, "meshcoord.relay.connections"))

        if let cert = config.tlsCertificateFile, let key = config.tlsKeyFile {
            let tls = try ReloadableServerTLS(certificateFile: cert, keyFile: key)
            logger.info("TLS on the relay port: \(tls.current.summary(nowSeconds: Coordinator.nowSeconds())) from \(cert); SIGHUP reloads it")
            self.tls = tls
        } else {
            tls = nil
        }

        let dir = config.stateDirectory
        try ServerStateDirectory.prepare(dir)
        let fd = try ServerStateDirectory.lock(dir, fileName: Self.lockFileName, server: "meshcoord relay")
        lockFD = Mutex(fd)
        let keyBytes: [UInt8]
        do {
            let key = try ServerStateDirectory.loadOrCreateKey(dir, Self.keyFile, logger: logger)
            keyBytes = key.rawBytes
            publicKeyBase64 = key.publicKey.base64
            var relayConfig = RelayServerConfig()
            relayConfig.handshakeTimeout = .milliseconds(
                SecondsInput.milliseconds(config.relayHandshakeTimeoutSeconds, within: 1...60) ?? 4000)
            relay = RelayService(privateKey: key, config: relayConfig, logger: Self.child(logger, "meshcoord.relay.service"),
                                 authorize: admission.authorizer)
            let coordinatorKey = try PublicKey(base64: CoordinatorConfig.canonicalRelayKey(config.coordinatorKey) ?? "")
            let client = try RelayNodesClient(coordinatorURL: config.coordinatorURL, coordinatorKeyBytes: coordinatorKey.rawBytes,
                                              relayKeyBytes: keyBytes, tls: try TLSClient(caFile: config.caFile))
            poller = RelayNodesPoller(
                client: client, admission: admission, relay: relay,
                pollTimeout: Coordinator.timeAmount(config.pollTimeoutSeconds, default: 90),
                schedule: RelayNodesPollSchedule(initialDelay: config.retryInitialSeconds, maximumDelay: config.retryMaximumSeconds),
                logger: Self.child(logger, "meshcoord.relay.nodes"))
        } catch {
            close(fd)
            throw error
        }
        if config.stunPorts.count == 2 {
            stun = STUNServer(configuration: .init(host: config.listenHost, port1: config.stunPorts[0], port2: config.stunPorts[1],
                                                   software: "meshcoord relay"),
                              logger: Self.child(logger, "meshcoord.relay.stun"))
        } else {
            stun = nil
        }
    }

    deinit { releaseLock() }

    func releaseLock() {
        lockFD.withLock { fd in
            if fd >= 0 { close(fd) }
            fd = -1
        }
    }

    static func child(_ parent: Logger, _ label: String) -> Logger {
        var l = Logger(label: label)
        l.logLevel = parent.logLevel
        return l
    }

    /// The relay's public key (base64), creating the key on first use: what `--print-key`
    /// prints for the coordinator's `[[relay]] key`. Reads without the lock when the key
    /// exists (a running relay holds the lock); creates it only under the lock.
    public static func publicKey(stateDirectory dir: String, logger: Logger) throws -> String {
        let path = (dir as NSString).appendingPathComponent(keyFileName)
        if !FileManager.default.fileExists(atPath: path) {
            try ServerStateDirectory.prepare(dir)
            let fd = try ServerStateDirectory.lock(dir, fileName: lockFileName, server: "meshcoord relay")
            defer { close(fd) }
            return try ServerStateDirectory.loadOrCreateKey(dir, keyFile, logger: logger).publicKey.base64
        }
        return try ServerStateDirectory.loadOrCreateKey(dir, keyFile, logger: logger).publicKey.base64
    }

    // MARK: Running

    /// Binds STUN (so a port in use is a start-up error, not a log line), then serves until
    /// SIGTERM/SIGINT or `shutdown()`.
    public func run(gracefulShutdownSignals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        defer { listening.fail("relay stopped before listening") }
        defer { releaseLock() }
        if let stun {
            do { try await stun.start() } catch {
                throw StartupError("cannot listen for STUN on UDP \(config.listenHost) ports " +
                                   "\(config.stunPorts.map(String.init).joined(separator: ",")): \(error)")
            }
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: makeApplication())]
        if let stun { services.append(.init(service: stun)) }
        if let tls {
            services.append(.init(service: TLSReloadOnHangup(tls: tls, hangups: await TLSReloadOnHangup.trap(), logger: logger)))
        }
        // Stops before the HTTP server, which waits for its connections (relay ones too).
        services.append(.init(service: RelayLifecycleService(relay: relay, loop: MultiThreadedEventLoopGroup.singleton.next())))
        services.append(.init(service: poller))
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: gracefulShutdownSignals,
                                                      logger: logger))
        self.group.withLock { $0 = group }
        try await group.run()
        logger.info("meshcoord relay stopped")
    }

    /// Starts a graceful shutdown (what SIGTERM does).
    public func shutdown() async {
        if let g = group.withLock({ $0 }) { await g.triggerGracefulShutdown() }
    }

    /// The HTTP port once it listens (useful with port 0).
    public func waitUntilListening() async throws -> Int { try await listening.wait() }

    func makeApplication() -> some Service {
        let router = Router()
        router.add(middleware: JSONErrorMiddleware(logger: logger))
        // A friendly answer for people who point a browser or curl at the relay.
        router.get("/") { _, _ in try jsonResponse(["service": "meshcoord relay", "relay": RelayService.path]) }
        let logger = self.logger, config = self.config, key = publicKeyBase64, gate = self.gate, tls = self.tls
        let stunPorts = stun?.ports.map { "\($0.0),\($0.1)" } ?? "off"
        var httpLogger = Logger(label: "meshcoord.relay.http")
        httpLogger.logLevel = logger.logLevel > .notice ? logger.logLevel : .notice
        return Application(
            router: router,
            server: RelaySharingHTTP1Channel.builder(
                configuration: .init(idleTimeout: Coordinator.timeAmount(config.idleTimeoutSeconds + config.requestHeadTimeoutSeconds,
                                                                          default: 40)),
                relay: relay, gate: gate, tls: tls,
                headTimeout: Coordinator.timeAmount(config.requestHeadTimeoutSeconds, default: 10),
                idleTimeout: Coordinator.timeAmount(config.idleTimeoutSeconds, default: 30)),
            configuration: .init(address: .hostname(config.listenHost, port: config.listenPort), serverName: "meshcoord-relay",
                                 backlog: 4096),
            onServerRunning: { [listening] channel in
                // Made on the channel's event loop: the handler is not Sendable and never leaves it.
                channel.eventLoop.execute {
                    try? channel.pipeline.syncOperations.addHandler(AcceptPauseHandler(logger: logger), position: .first)
                }
                let port = channel.localAddress?.port ?? config.listenPort
                listening.bound(port)
                logger.info("meshcoord relay listening", metadata: [
                    "relay_key": "\(key)", "address": "\(config.listenHost):\(port)", "stun_ports": "\(stunPorts)",
                    "coordinator": "\(config.coordinatorURL)", "state_dir": "\(config.stateDirectory)",
                    "connections": "\(gate.total) in all, \(gate.perSource) per source",
                    "tls": "\(tls.map { "serial \($0.current.serial)" } ?? "off")",
                ])
            },
            logger: httpLogger)
    }
}
