import CSodium
import CheckedArithmetic
import CoordinatorStore
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
#endif

/// The operating system's randomness via libsodium (the coordinator's own small equivalent of
/// MeshIO's SystemEntropy; the coordinator does not depend on MeshIO).
public struct SodiumEntropy: EntropySource {
    public init() { _ = Sodium.isReady }
    public mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        if let base = buffer.baseAddress { randombytes_buf(base, buffer.count) }
    }
    public static func bytes(_ n: Int) -> [UInt8] {
        _ = Sodium.isReady
        var out = [UInt8](repeating: 0, count: n)
        out.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, n) }
        return out
    }
}

/// A start-up problem worth one clear line (bad state dir, unreadable key, locked state...).
public struct StartupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// `meshcoord serve`: the node API (HTTP) with the relay on the same port, the admin API (unix
/// socket), STUN, and presence tracking, run as one `ServiceGroup` with clean shutdown on SIGTERM/SIGINT.
public final class Coordinator: Sendable {
    public static let keyFileName = "coordinator.key"
    public static let lockFileName = "meshcoord.lock"

    public let config: CoordinatorConfig
    public let store: CoordinatorStore
    public let hub: NetworkHub
    let privateKey: PrivateKey
    public let publicKey: PublicKey
    /// `publicKey` in base64, kept so async handlers never hold the key value itself.
    let publicKeyBase64: String
    /// The keys of the `[[relay]]` extras: only they may ask which nodes to admit (`/v1/relay/nodes`).
    let extraRelayKeys: Set<String>
    let logger: Logger
    let startedAt: Int64
    /// Requests stamped before this are refused (see `NodeAPI.checkStampedAfterStart`).
    let startedAtMillis: Int64
    /// Caps on the node API's connections (see `ConnectionCaps`).
    public let gate: ConnectionGate
    /// The process's file descriptor limit after start-up raised it (soft, hard).
    public let fileDescriptorLimit: (soft: Int, hard: Int)
    /// The relays handed to nodes: this coordinator's own, then the configured extras.
    public var relays: [RelayInfo] { config.relays(boundPort: boundPort, coordinatorKey: publicKeyBase64) }
    /// The URL that goes into join tokens.
    public var publicURL: String { config.publicURL(boundPort: boundPort) }
    var boundPort: Int? { listening.port }
    public let stun: STUNServer?
    /// The DERP-style relay served on the node API's port (`GET /relay`), keyed with the
    /// coordinator key, admitting registered, unexpired, not removed nodes.
    public let relay: RelayService
    /// TLS on the node API port, when `tls_cert`/`tls_key` are set (else plain HTTP, e.g.
    /// behind a reverse proxy); SIGHUP reloads it.
    public let tls: ReloadableServerTLS?

    let replay = Mutex(ReplayGuard())
    let sharedKeys = Mutex([PublicKey: Box.SharedKey]())
    private let listening = ListeningPort()
    private let group = Mutex<ServiceGroup?>(nil)
    private let lockFD: Mutex<Int32>

    /// Prepares the state dir (creating it, the coordinator key and the database on first
    /// start) and loads the netmap. Throws `StartupError`/`StoreError` with a clear message.
    public init(config: CoordinatorConfig, logger: Logger = Logger(label: "meshcoord")) throws {
        _ = Sodium.isReady
        try config.validate()
        self.config = config
        self.logger = logger
        extraRelayKeys = config.extraRelayKeys
        let nowMillis = Self.nowMillis()
        startedAtMillis = nowMillis
        startedAt = nowMillis / 1000
        fileDescriptorLimit = FileDescriptorLimit.raiseSoftToHard()
        let allowed = ConnectionCaps.defaultTotal(fileDescriptorLimit: fileDescriptorLimit.soft)
        let total = min(config.maxConnections ?? allowed, allowed)
        var gateLogger = Logger(label: "meshcoord.connections")
        gateLogger.logLevel = logger.logLevel
        let proxies = Set(config.trustedProxies.compactMap { a in
            (try? SocketAddress(ipAddress: a, port: 0)).map { ConnectionCaps.sourceKey($0) }
        })
        gate = ConnectionGate(total: total, perSource: config.maxConnectionsPerSource, exemptSources: proxies,
                              headTimeout: Self.timeAmount(config.requestHeadTimeoutSeconds, default: 10), logger: gateLogger)
        logger.info("\("file descriptor limit \(fileDescriptorLimit.soft) (hard \(fileDescriptorLimit.hard)); ")\("node API connections capped at \(total) in all, \(config.maxConnectionsPerSource) per source")\(proxies.isEmpty ? "" : " except the trusted proxies \(proxies.sorted())")")
        if let asked = config.maxConnections, asked > allowed {
            logger.warning("\("max_connections \(asked) does not fit the file descriptor limit \(fileDescriptorLimit.soft) ")\("(descriptors are kept for the database and sockets); using \(allowed); raise LimitNOFILE= for more")")
        }

        // Bad certificate or key files stop the start here, before anything is created or listens.
        if let cert = config.tlsCertificateFile, let key = config.tlsKeyFile {
            let tls = try ReloadableServerTLS(certificateFile: cert, keyFile: key)
            logger.info("TLS on the node API port: \(tls.current.summary(nowSeconds: Self.nowSeconds())) from \(cert); SIGHUP reloads it")
            self.tls = tls
        } else {
            tls = nil
        }

        let dir = config.stateDirectory
        try ServerStateDirectory.prepare(dir)
        // One server per state dir: a second one would hand out addresses behind the first's back.
        let fd = try ServerStateDirectory.lock(dir, fileName: Self.lockFileName, server: "meshcoord")
        lockFD = Mutex(fd)
        do {
            privateKey = try ServerStateDirectory.loadOrCreateKey(dir, Self.keyFile, logger: logger)
            publicKey = privateKey.publicKey
            publicKeyBase64 = publicKey.base64
            var options = CoordinatorStore.Options(synchronousFull: config.synchronousFull)
            do {
                if let p = config.ipv4Prefix {
                    options.ipv4Prefix = try OverlayPrefix(parsing: p)
                    guard options.ipv4Prefix?.family == .v4 else { throw StartupError("ipv4_prefix \(p) is not an IPv4 prefix") }
                }
                if let p = config.ipv6Prefix {
                    options.ipv6Prefix = try OverlayPrefix(parsing: p)
                    guard options.ipv6Prefix?.family == .v6 else { throw StartupError("ipv6_prefix \(p) is not an IPv6 prefix") }
                }
            } catch let e as OverlayPrefix.ParseError {
                throw StartupError("overlay prefix: \(e.description)")
            }
            store = try CoordinatorStore(directory: dir, options: options, randomBytes: SodiumEntropy.bytes)
            hub = NetworkHub(nodes: try store.allNodes(), version: try store.currentVersion())
            try Self.loadPolicy(store: store, hub: hub)
        } catch {
            close(fd)
            throw error
        }
        if config.stunPorts.count == 2 {
            var stunLogger = Logger(label: "meshcoord.stun")
            stunLogger.logLevel = logger.logLevel
            stun = STUNServer(configuration: .init(host: config.effectiveSTUNHost, port1: config.stunPorts[0], port2: config.stunPorts[1]),
                              logger: stunLogger)
        } else {
            if !config.stunPorts.isEmpty {
                logger.warning("STUN needs two ports (e.g. 3478,3479) so nodes can tell easy from hard NATs; STUN is off")
            }
            stun = nil
        }
        var relayLogger = Logger(label: "meshcoord.relay")
        relayLogger.logLevel = logger.logLevel
        var relayConfig = RelayServerConfig()
        // An upgraded connection that has not proved a registered key holds a descriptor for
        // nothing: a few seconds are plenty for the one round trip the proof needs.
        relayConfig.handshakeTimeout = .milliseconds(
            SecondsInput.milliseconds(config.relayHandshakeTimeoutSeconds, within: 1...60) ?? 4000)
        relay = RelayService(privateKey: privateKey, config: relayConfig, logger: relayLogger,
                             authorize: Self.relayAuthorizer(hub: hub))
        let hub = self.hub
        store.setChangeObserver { hub.apply($0) }
    }

    deinit { releaseLock() }

    /// Lets another server (e.g. a restart in the same process) use the state dir.
    func releaseLock() {
        lockFD.withLock { fd in
            if fd >= 0 { close(fd) }
            fd = -1
        }
    }

    static let keyFile = ServerStateDirectory.KeyFile(
        fileName: keyFileName, what: "coordinator key",
        ifCorrupted: "restore it from a backup: every join token and node trusts its public half")

    // MARK: Running

    /// Runs every service until SIGTERM/SIGINT (or `shutdown()`), then shuts down cleanly.
    public func run(gracefulShutdownSignals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        let nodeApp = makeNodeApplication()
        let adminApp = try makeAdminApplication()
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: nodeApp), .init(service: adminApp),
        ]
        if let stun { services.append(.init(service: stun)) }
        if let tls {
            services.append(.init(service: TLSReloadOnHangup(tls: tls, hangups: await TLSReloadOnHangup.trap(), logger: logger)))
        }
        services.append(.init(service: PresenceService(coordinator: self)))
        // Stops before the node API, whose server waits for its connections (relay ones too).
        services.append(.init(service: RelayLifecycleService(relay: relay, loop: MultiThreadedEventLoopGroup.singleton.next())))
        // Last, so it is the first to stop: it releases waiting long-polls at once, letting the
        // HTTP server finish its requests quickly.
        services.append(.init(service: HubReleaseService(hub: hub)))
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: gracefulShutdownSignals,
                                                      logger: logger))
        self.group.withLock { $0 = group }
        defer { listening.fail("coordinator stopped before listening") }
        defer { releaseLock() }
        try await group.run()
        logger.info("meshcoord stopped")
    }

    /// Starts a graceful shutdown (what SIGTERM does).
    public func shutdown() async {
        hub.shutdown()
        if let g = group.withLock({ $0 }) { await g.triggerGracefulShutdown() }
    }

    /// The node API's TCP port once it listens (useful with port 0).
    public func waitUntilListening() async throws -> Int { try await listening.wait() }

    func markListening(_ port: Int) { listening.bound(port) }

    func makeNodeApplication() -> some Service {
        let router = Router(context: NodeRequestContext.self)
        router.add(middleware: OneRequestPerConnectionMiddleware())
        router.add(middleware: JSONErrorMiddleware(logger: logger))
        NodeAPI(coordinator: self).register(on: router)
        let logger = self.logger
        return Application(
            router: router,
            server: RelaySharingHTTP1Channel.builder(
                // Hummingbird's own idle timeout is only a backstop behind `RequestDeadlines`.
                configuration: .init(idleTimeout: Self.timeAmount(config.idleTimeoutSeconds + config.requestHeadTimeoutSeconds, default: 40)),
                relay: relay, gate: gate, tls: tls,
                headTimeout: Self.timeAmount(config.requestHeadTimeoutSeconds, default: 10),
                idleTimeout: Self.timeAmount(config.idleTimeoutSeconds, default: 30)),
            configuration: .init(address: .hostname(config.listenHost, port: config.listenPort), serverName: "meshcoord",
                                 backlog: 4096),
            onServerRunning: { [self] channel in
                // Made on the channel's event loop: the handler is not Sendable and never leaves it.
                channel.eventLoop.execute {
                    try? channel.pipeline.syncOperations.addHandler(AcceptPauseHandler(logger: logger), position: .first)
                }
                let port = channel.localAddress?.port ?? config.listenPort
                markListening(port)
                logger.info("node API listening", metadata: ["address": "\(config.listenHost):\(port)",
                                                             "public_url": "\(publicURL)",
                                                             "tls": "\(tls.map { "serial \($0.current.serial)" } ?? "off")"])
                for r in config.extrasAtOwnURL(boundPort: port) {
                    let note = "[[relay]] \"\(r.id)\" is at this coordinator's own relay URL \(r.url); it is left out " +
                        "(the coordinator's relay is always the first one, as \"\(config.relayID)\")"
                    logger.notice("\(note)")
                }
            },
            logger: quietLogger("meshcoord.http"))
    }

    func makeAdminApplication() throws -> some Service {
        let path = config.adminSocketPath
        guard path.utf8.count < 108 else {
            throw StartupError("admin socket path \(path) is too long for a unix socket (max 107 bytes); set admin_socket")
        }
        let router = Router()
        router.add(middleware: JSONErrorMiddleware(logger: logger))
        AdminAPI(coordinator: self).register(on: router)
        let logger = self.logger
        return Application(
            router: router,
            configuration: .init(address: .unixDomainSocket(path: path), serverName: "meshcoord-admin"),
            onServerRunning: { _ in
                if chmod(path, 0o600) != 0 {
                    logger.error("cannot chmod 600 the admin socket", metadata: ["path": "\(path)"])
                }
                logger.info("admin API listening", metadata: ["socket": "\(path)"])
            },
            logger: quietLogger("meshcoord.admin"))
    }

    func quietLogger(_ label: String) -> Logger {
        var l = Logger(label: label)
        l.logLevel = logger.logLevel > .notice ? logger.logLevel : .notice
        return l
    }

    // MARK: Helpers for the APIs

    static func nowSeconds() -> Int64 { Int64(checkedRounding: Date().timeIntervalSince1970) ?? 0 }
    static func nowMillis() -> Int64 { Int64(checkedRounding: Date().timeIntervalSince1970 * 1000) ?? 0 }

    /// A validated seconds setting as a NIO time amount (`default` if it is somehow out of range).
    static func timeAmount(_ seconds: Double, default fallback: Int64) -> TimeAmount {
        .milliseconds(SecondsInput.milliseconds(seconds, within: 0.001...86_400) ?? fallback * 1000)
    }

    /// crypto_box shared key for a node key, cached (X25519 once per node, not per request).
    func sharedKey(for nodeKey: PublicKey) -> Box.SharedKey? {
        if let k = sharedKeys.withLock({ $0[nodeKey] }) { return k }
        guard let k = Box.SharedKey(peer: nodeKey, own: privateKey) else { return nil }
        sharedKeys.withLock { cache in
            if cache.count >= 200_000 { cache.removeAll(keepingCapacity: true) }
            cache[nodeKey] = k
        }
        return k
    }

    /// One presence sweep at `now` (Unix seconds; the sweeper passes the clock, tests any
    /// time): nodes whose connection went away `NetworkHub.disconnectGraceSeconds` ago
    /// without a new poll, and nodes silent for `offline_after_seconds`, are stored offline;
    /// the store's change reaches every peer's waiting poll at once.
    public func markStaleNodesOffline(now: Int64) async {
        let offlineAfter = Int64(checkedRounding: config.offlineAfterSeconds.rounded(.up)) ?? 60
        for (id, lastSeen) in hub.staleOnlineNodes(now: now, offlineAfter: offlineAfter, startedAt: startedAt,
                                                   disconnectGrace: min(NetworkHub.disconnectGraceSeconds, offlineAfter)) {
            guard (try? await store.update(nodeID: id, .init(online: false, lastSeen: lastSeen), now: now)) != nil else { continue }
            logger.info("node offline", metadata: ["id": "\(id)", "name": "\(hub.node(id: id)?.name ?? "?")",
                                                   "last_seen_seconds_ago": "\(now.subtractingReportingOverflow(lastSeen).partialValue)"])
        }
    }

    func makeJoinToken(secret: [UInt8]) -> JoinToken {
        JoinToken(coordinatorURL: publicURL, coordinatorKey: publicKey, secret: secret)
    }
}

/// Releases waiting long-polls on graceful shutdown.
struct HubReleaseService: Service {
    let hub: NetworkHub
    func run() async throws {
        try? await gracefulShutdown()
        hub.shutdown()
    }
}

/// Marks nodes offline when they stop polling, and persists last-seen times now and then.
struct PresenceService: Service {
    let coordinator: Coordinator

    func run() async throws {
        var lastFlush = ContinuousClock.now
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            await coordinator.markStaleNodesOffline(now: Coordinator.nowSeconds())
            if ContinuousClock.now - lastFlush > .seconds(60) {
                lastFlush = ContinuousClock.now
                try? await coordinator.store.recordLastSeen(coordinator.hub.lastSeenTimes())
            }
        }
        try? await coordinator.store.recordLastSeen(coordinator.hub.lastSeenTimes())
    }
}

/// Turns every error into `{ "error": "...", "code": "..." }` with a fitting status.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as CoordinatorError {
            return Self.response(e.code, e.message)
        } catch let e as SealError {
            return Self.response(e.code, e.message)
        } catch is NIOTooManyBytesError {
            return Self.response(.bodyTooLarge, "request body is too large")
        } catch let e as HTTPError {
            switch e.status.code {
            case 404:
                return Self.response(.notFound, "no such endpoint: \(request.method) \(request.uri.path)")
            case 405:
                return Self.response(.methodNotAllowed, "method \(request.method) is not allowed on \(request.uri.path)")
            case 413:
                return Self.response(.bodyTooLarge, "request body is too large")
            default:
                return Self.response(.badRequest, e.body ?? e.status.reasonPhrase, status: e.status)
            }
        } catch let e as StoreError {
            // The details (SQLite's text, paths) are for the operator, not for clients.
            logger.error("store error", metadata: ["path": "\(request.uri.path)", "error": "\(e)"])
            return Self.response(.unavailable, "the coordinator cannot use its database right now; try again later")
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            logger.error("internal error", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return Self.response(.internal, "internal error; the coordinator's log has the details")
        }
    }

    static func status(_ code: ErrorCode) -> HTTPResponse.Status {
        switch code {
        case .malformedJSON, .badRequest, .badEnvelope, .invalidName: return .badRequest
        case .badSeal, .staleRequest, .authKeyMissing, .authKeyUnknown, .nodeUnknown: return .unauthorized
        case .authKeyExpired, .authKeyRevoked, .authKeyUsed, .nodeExpired: return .forbidden
        case .replayedRequest, .nameTaken, .discoKeyInUse: return .conflict
        case .bodyTooLarge: return .contentTooLarge
        case .notFound: return .notFound
        case .methodNotAllowed: return .methodNotAllowed
        case .addressPoolExhausted, .unavailable: return .serviceUnavailable
        case .internal: return .internalServerError
        }
    }

    static func response(_ code: ErrorCode, _ message: String, status: HTTPResponse.Status? = nil) -> Response {
        let body = (try? JSONEncoder().encode(ErrorBody(code, message))) ?? Data()
        return Response(status: status ?? Self.status(code), headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

func jsonResponse<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, pretty: Bool = false) throws -> Response {
    let e = JSONEncoder()
    if pretty { e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] }
    var data = try e.encode(value)
    if pretty { data.append(0x0A) }
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
}
