import CoordinatorServer
import Foundation
import Logging
import MeshHTTP
import MeshWire

/// A fresh directory under /tmp for a test's state. Short on purpose: the coordinator's admin
/// socket path inside it must fit in 107 bytes.
public func tempStateDir(_ name: String) -> String {
    let dir = "/tmp/mt-\(name)-\(UUID().uuidString.prefix(8))"
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// A real coordinator in this process on 127.0.0.1, so tests exercise the same HTTP stack,
/// sealing and store that meshcoord runs, without a child process to manage.
public final class TestCoordinator: @unchecked Sendable {
    public let coordinator: Coordinator
    public let port: Int
    public let dir: String
    /// Only a directory this type made is removed on `stop()`; a caller-supplied one is kept
    /// so restart tests can start a second coordinator on the same state.
    private let ownsDirectory: Bool
    private let task: Task<Void, any Error>

    public var target: SimpleHTTPClient.Target { .tcp(host: "127.0.0.1", port: port) }
    public var admin: SimpleHTTPClient.Target { .unix(path: coordinator.config.adminSocketPath) }
    public var keyBase64: String { coordinator.publicKey.base64 }

    /// `port` 0 picks an ephemeral port; restart tests pass the old one back in.
    public static func start(_ name: String, dir: String? = nil, port: Int = 0, keepAlive: Double = 50,
                             configure: (inout CoordinatorConfig) -> Void = { _ in }) async throws -> TestCoordinator {
        var config = CoordinatorConfig()
        config.stateDirectory = dir ?? tempStateDir(name)
        config.listenHost = "127.0.0.1"
        config.listenPort = port
        config.stunPorts = []
        config.keepAliveSeconds = keepAlive
        // Tests open hundreds of connections from 127.0.0.1 on purpose; ConnectionLimitTests
        // lower this again.
        config.maxConnectionsPerSource = 100_000
        configure(&config)
        var logger = Logger(label: "test-coordinator")
        logger.logLevel = .warning
        let c = try Coordinator(config: config, logger: logger)
        let task = Task { try await c.run(gracefulShutdownSignals: []) }
        let bound = try await c.waitUntilListening()
        let server = TestCoordinator(c, port: bound, dir: config.stateDirectory, ownsDirectory: dir == nil, task: task)
        // The admin socket binds concurrently with the node API; wait until it answers.
        let admin = server.admin
        do {
            try await waitUntil("admin socket answering /v1/health", pollingEvery: .milliseconds(10)) {
                (try? await SimpleHTTPClient.request(admin, method: "GET", path: "/v1/health"))?.status == 200
            }
        } catch {
            try? await server.stop()
            throw error
        }
        return server
    }

    private init(_ c: Coordinator, port: Int, dir: String, ownsDirectory: Bool, task: Task<Void, any Error>) {
        coordinator = c
        self.port = port
        self.dir = dir
        self.ownsDirectory = ownsDirectory
        self.task = task
    }

    public func stop() async throws {
        defer { if ownsDirectory { try? FileManager.default.removeItem(atPath: dir) } }
        await coordinator.shutdown()
        try await task.value
    }

    public struct AdminError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Makes an auth key through the admin socket; returns the parsed join token.
    public func authKey(reusable: Bool = false, tags: [String] = [], expirySeconds: Int64? = nil) async throws -> JoinToken {
        let r = try await adminCall("POST", "/v1/authkeys",
                                    body: AdminCreateAuthKeyRequest(reusable: reusable, expirySeconds: expirySeconds, tags: tags))
        guard r.status == 201 else { throw AdminError(description: "authkey create: HTTP \(r.status) \(r.text)") }
        let created = try JSONDecoder().decode(AdminCreateAuthKeyResponse.self, from: Data(r.body))
        return try JoinToken(parsing: created.token)
    }

    public func adminCall(_ method: String, _ path: String, body: (some Encodable)? = Optional<String>.none) async throws -> SimpleHTTPClient.Response {
        let payload = try body.map { Array(try JSONEncoder().encode($0)) }
        return try await SimpleHTTPClient.request(admin, method: method, path: path, body: payload)
    }
}
