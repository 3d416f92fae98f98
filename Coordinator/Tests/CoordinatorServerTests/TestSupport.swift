import CoordinatorServer
import CoordinatorStore
import Foundation
import Logging
import MeshCrypto
import MeshHTTP
import MeshWire
import NIOCore
import NIOPosix
import Testing

func tempStateDir(_ name: String) -> String {
    // Short: the admin socket path must fit in 107 bytes.
    let dir = "/tmp/mct-\(name)-\(UUID().uuidString.prefix(8))"
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// A real coordinator in this process, on 127.0.0.1 and an ephemeral port.
final class TestServer: @unchecked Sendable {
    let coordinator: Coordinator
    let port: Int
    let dir: String
    private let task: Task<Void, any Error>

    var target: SimpleHTTPClient.Target { .tcp(host: "127.0.0.1", port: port) }
    var admin: SimpleHTTPClient.Target { .unix(path: coordinator.config.adminSocketPath) }
    var keyBase64: String { coordinator.publicKey.base64 }

    static func start(_ name: String, dir: String? = nil, keepAlive: Double = 50,
                      configure: (inout CoordinatorConfig) -> Void = { _ in }) async throws -> TestServer {
        var config = CoordinatorConfig()
        config.stateDirectory = dir ?? tempStateDir(name)
        config.listenHost = "127.0.0.1"
        config.listenPort = 0
        config.stunPorts = []
        config.keepAliveSeconds = keepAlive
        // Tests open hundreds of connections from 127.0.0.1 on purpose; ConnectionLimitTests
        // lower this again.
        config.maxConnectionsPerSource = 100_000
        configure(&config)
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let c = try Coordinator(config: config, logger: logger)
        let task = Task { try await c.run(gracefulShutdownSignals: []) }
        let port = try await c.waitUntilListening()
        // The admin socket binds concurrently; wait until it answers.
        for _ in 0..<200 {
            if (try? await SimpleHTTPClient.request(.unix(path: config.adminSocketPath), method: "GET", path: "/v1/health"))?.status == 200 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        return TestServer(c, port: port, dir: config.stateDirectory, task: task)
    }

    private init(_ c: Coordinator, port: Int, dir: String, task: Task<Void, any Error>) {
        coordinator = c
        self.port = port
        self.dir = dir
        self.task = task
    }

    func stop() async throws {
        await coordinator.shutdown()
        try await task.value
    }

    /// Makes an auth key through the admin socket; returns the parsed join token.
    func authKey(reusable: Bool = false, tags: [String] = [], expirySeconds: Int64? = nil) async throws -> JoinToken {
        let body = try JSONEncoder().encode(AdminCreateAuthKeyRequest(reusable: reusable, expirySeconds: expirySeconds, tags: tags))
        let r = try await SimpleHTTPClient.request(admin, method: "POST", path: "/v1/authkeys", body: Array(body))
        #expect(r.status == 201, "authkey create: \(r.text)")
        let created = try JSONDecoder().decode(AdminCreateAuthKeyResponse.self, from: Data(r.body))
        return try JoinToken(parsing: created.token)
    }

    func adminCall(_ method: String, _ path: String, body: (some Encodable)? = Optional<String>.none) async throws -> SimpleHTTPClient.Response {
        let payload = try body.map { Array(try JSONEncoder().encode($0)) }
        return try await SimpleHTTPClient.request(admin, method: method, path: path, body: payload)
    }
}

/// The failure a node sees: HTTP status plus the coordinator's error body.
struct NodeCallError: Error, CustomStringConvertible {
    var status: Int
    var body: ErrorBody?
    var raw: String
    var description: String { "HTTP \(status): \(body?.description ?? raw)" }
}

/// A simulated node: its own key, sealing every request as meshd would.
struct TestNode: Sendable {
    // Keys as bytes, not SIMD-backed Key32 values: those corrupt async frames with Swift 6.3.1.
    let keyBytes: [UInt8]
    let coordinatorKeyBytes: [UInt8]
    var target: SimpleHTTPClient.Target
    let discoKey: String
    var key: PrivateKey { try! PrivateKey(rawBytes: keyBytes) }
    var coordinatorKey: PublicKey { try! PublicKey(rawBytes: coordinatorKeyBytes) }
    var publicKeyBase64: String { key.publicKey.base64 }

    init(server: TestServer) { self.init(target: server.target, coordinatorKeyBytes: server.coordinator.publicKey.rawBytes) }

    init(target: SimpleHTTPClient.Target, coordinatorKeyBytes: [UInt8]) {
        var e = SodiumEntropy()
        keyBytes = PrivateKey.generate(using: &e).rawBytes
        discoKey = PrivateKey.generate(using: &e).publicKey.base64
        self.coordinatorKeyBytes = coordinatorKeyBytes
        self.target = target
    }

    /// The sealed bytes of a request (so tests can replay or tamper with them).
    func seal<B: Codable>(_ body: B, nowMillis: Int64? = nil, toKeyBytes: [UInt8]? = nil) throws -> (bytes: [UInt8], rid: [UInt8]) {
        let rid = SodiumEntropy.bytes(16)
        let to = try toKeyBytes.map { try PublicKey(rawBytes: $0) } ?? coordinatorKey
        let bytes = try ControlSeal.sealRequest(body, nodeKey: key, coordinatorKey: to,
                                                nowMillis: nowMillis ?? Int64(Date().timeIntervalSince1970 * 1000),
                                                requestID: rid, nonce: SodiumEntropy.bytes(24))
        return (bytes, rid)
    }

    func post(_ path: String, _ bytes: [UInt8]) async throws -> SimpleHTTPClient.Response {
        try await SimpleHTTPClient.request(target, method: "POST", path: path, body: bytes)
    }

    /// Seals, posts, checks the status; returns the reply bytes and the request id.
    func exchange<B: Codable>(_ path: String, _ body: B) async throws -> ([UInt8], [UInt8]) {
        let sealed = try seal(body)
        let r = try await post(path, sealed.bytes)
        if r.status != 200 {
            let decoded = try? JSONDecoder().decode(ErrorBody.self, from: Data(r.body))
            throw NodeCallError(status: r.status, body: decoded, raw: r.text)
        }
        return (r.body, sealed.rid)
    }

    func open<R: Codable>(_ reply: ([UInt8], [UInt8]), as type: R.Type) throws -> R {
        try ControlSeal.openReply(reply.0, as: type, nodeKey: key, coordinatorKey: coordinatorKey, requestID: reply.1)
    }

    func call<B: Codable, R: Codable>(_ path: String, _ body: B, as type: R.Type) async throws -> R {
        try open(try await exchange(path, body), as: type)
    }

    func register(_ token: JoinToken, hostname: String = "node") async throws -> RegisterResponse {
        try await register(secret: token.authSecret, hostname: hostname)
    }

    func register(secret: String?, hostname: String = "node") async throws -> RegisterResponse {
        let request = RegisterRequest(authKey: secret, hostname: hostname, os: "linux", discoKey: discoKey)
        return try open(try await exchange("/v1/register", request), as: RegisterResponse.self)
    }

    func map(since: UInt64? = nil, endpoints: [String]? = nil, wait: Bool? = nil) async throws -> MapResponse {
        try await call("/v1/map", MapRequest(sinceVersion: since, endpoints: endpoints, wait: wait), as: MapResponse.self)
    }

    func endpoints(_ e: [String]) async throws -> EndpointsResponse {
        try await call("/v1/endpoints", EndpointsRequest(endpoints: e), as: EndpointsResponse.self)
    }
}

/// The error code a call failed with (nil when it succeeded).
func failureCode(_ body: () async throws -> Void) async -> (Int, String)? {
    do {
        try await body()
        return nil
    } catch let e as NodeCallError {
        return (e.status, e.body?.code ?? "no-json-body: \(e.raw)")
    } catch {
        return (0, "\(error)")
    }
}

/// Runs `body` against a fresh server and always stops it (cleanly) afterwards.
@discardableResult
func withServer<T>(_ name: String, keepAlive: Double = 50, _ body: (TestServer) async throws -> T) async throws -> T {
    let server = try await TestServer.start(name, keepAlive: keepAlive)
    do {
        let r = try await body(server)
        try await server.stop()
        return r
    } catch {
        try? await server.stop()
        throw error
    }
}
