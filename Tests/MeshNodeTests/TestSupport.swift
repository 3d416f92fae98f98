import CoordinatorServer
import Foundation
import Logging
import MeshCrypto
import MeshHTTP
import MeshNode
import MeshWire

func tempDir(_ name: String) -> String {
    // Short: the coordinator's admin socket path must fit in 107 bytes.
    let dir = "/tmp/mnt-\(name)-\(UUID().uuidString.prefix(8))"
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// A real coordinator in this process on 127.0.0.1 (as in CoordinatorServerTests).
final class TestCoordinator: @unchecked Sendable {
    let coordinator: Coordinator
    let port: Int
    let dir: String
    private let task: Task<Void, any Error>

    var admin: SimpleHTTPClient.Target { .unix(path: coordinator.config.adminSocketPath) }

    static func start(_ name: String, dir: String? = nil, port: Int = 0) async throws -> TestCoordinator {
        var config = CoordinatorConfig()
        config.stateDirectory = dir ?? tempDir(name)
        config.listenHost = "127.0.0.1"
        config.listenPort = port
        config.stunPorts = []
        config.keepAliveSeconds = 50
        var logger = Logger(label: "test-coordinator")
        logger.logLevel = .warning
        let c = try Coordinator(config: config, logger: logger)
        let task = Task { try await c.run(gracefulShutdownSignals: []) }
        let bound = try await c.waitUntilListening()
        for _ in 0..<200 {
            if (try? await SimpleHTTPClient.request(.unix(path: config.adminSocketPath), method: "GET", path: "/v1/health"))?.status == 200 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        return TestCoordinator(c, port: bound, dir: config.stateDirectory, task: task)
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

    func joinToken(reusable: Bool = false) async throws -> JoinToken {
        let body = try JSONEncoder().encode(AdminCreateAuthKeyRequest(reusable: reusable))
        let r = try await SimpleHTTPClient.request(admin, method: "POST", path: "/v1/authkeys", body: Array(body))
        guard r.status == 201 else { throw StateError("authkey create: HTTP \(r.status) \(r.text)") }
        return try JoinToken(parsing: try JSONDecoder().decode(AdminCreateAuthKeyResponse.self, from: Data(r.body)).token)
    }

    func removeNode(_ id: Int64) async throws {
        let r = try await SimpleHTTPClient.request(admin, method: "DELETE", path: "/v1/nodes/\(id)")
        guard r.status == 200 else { throw StateError("node remove: HTTP \(r.status) \(r.text)") }
    }
}

/// A node as meshd runs it, minus the TUN: its state dir, control loop and a collected log of diffs.
final class TestMeshNode: @unchecked Sendable {
    let dir: StateDirectory
    let keyBytes: [UInt8]
    let loop: ControlLoop
    private let lock = NSLock()
    private var _diffs: [PeerDiff] = []
    var diffs: [PeerDiff] { lock.withLock { _diffs } }

    init(name: String, token: JoinToken?, dir: StateDirectory, endpoints: [String] = []) throws {
        self.dir = dir
        keyBytes = try dir.loadOrCreateNodeKey()
        let saved = try dir.loadRegistration()
        let url = token?.coordinatorURL ?? saved!.coordinatorURL
        let key = token?.coordinatorKeyBytes ?? saved!.coordinatorKeyBytes!
        let client = try ControlClient(coordinatorURL: url, coordinatorKeyBytes: key, nodeKeyBytes: keyBytes)
        var entropy = SodiumEntropy()
        var options = ControlLoop.Options(hostname: name, discoKey: PrivateKey.generate(using: &entropy).publicKey.base64,
                                          authSecret: token?.authSecret)
        options.backoff = Backoff(initial: 0.05, maximum: 0.5)
        var logger = Logger(label: "test-node-\(name)")
        logger.logLevel = .critical
        loop = ControlLoop(client: client, options: options, logger: logger)
        let keyText = Base64.encode(key)
        loop.onRegistered = { r in
            try? dir.saveRegistration(SavedRegistration(coordinatorURL: url, coordinatorKey: keyText, response: r, registeredAt: 0))
        }
        loop.endpoints = { endpoints }
        loop.onPeers = { [weak self] diff, _ in
            guard let self else { return }
            self.lock.withLock { self._diffs.append(diff) }
        }
    }

    var peerIDs: Set<Int64> { Set(loop.status.netmap.peers.keys) }
}

/// Polls `condition` until it holds or `seconds` pass; true when it held.
func eventually(within seconds: Double, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}
