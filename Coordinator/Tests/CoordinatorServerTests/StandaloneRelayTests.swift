import CoordinatorServer
import Foundation
import Logging
import MeshCrypto
import MeshHTTP
import MeshTestSupport
import MeshWire
import NIOCore
import NIOPosix
import Relay
import RelayIO
import Testing

/// `meshcoord relay` in this process: a relay on "another host" admitting exactly the
/// coordinator's active nodes. Sendable by hand: `clients` is only touched by the test's own
/// sequential code (never from two tasks at once); the rest is immutable.
final class StandaloneRelayLab: @unchecked Sendable {
    let relay: StandaloneRelay
    let port: Int
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let task: Task<Void, any Error>
    private var clients: [RelayClient] = []

    var publicKey: PublicKey { try! PublicKey(base64: relay.publicKeyBase64) }

    /// `coordinator`: URL and key of the coordinator; `stateDir` must already hold the key
    /// when the coordinator was configured with it.
    static func start(stateDir: String, coordinatorURL: String, coordinatorKey: String) async throws -> StandaloneRelayLab {
        var c = StandaloneRelayConfig()
        c.stateDirectory = stateDir
        c.listenHost = "127.0.0.1"
        c.listenPort = 0
        c.stunPorts = []
        c.coordinatorURL = coordinatorURL
        c.coordinatorKey = coordinatorKey
        c.pollTimeoutSeconds = 60
        c.retryInitialSeconds = 0.05
        c.retryMaximumSeconds = 0.3
        c.maxConnectionsPerSource = 10_000
        var logger = Logger(label: "test.relay")
        logger.logLevel = .error
        let relay = try StandaloneRelay(config: c, logger: logger)
        let task = Task { try await relay.run(gracefulShutdownSignals: []) }
        let port = try await relay.waitUntilListening()
        return StandaloneRelayLab(relay: relay, port: port, task: task)
    }

    private init(relay: StandaloneRelay, port: Int, task: Task<Void, any Error>) {
        self.relay = relay
        self.port = port
        self.task = task
    }

    func client(_ key: PrivateKey, inbox: RelayInbox) -> RelayClient {
        var conf = RelayClient.Configuration(host: "127.0.0.1", port: port, pinnedServerKey: publicKey)
        conf.backoff = Backoff(initial: .milliseconds(50), maximum: .milliseconds(300))
        conf.tickInterval = .milliseconds(100)
        let c = RelayClient(nodeKey: key, configuration: conf, group: group,
                            onReceive: { k, p in inbox.packets.withLock { $0.append((k, p)) } },
                            onPeerGone: { k, r in inbox.gone.withLock { $0.append((k, r)) } })
        c.start()
        clients.append(c)
        return c
    }

    /// Stops the relay; returns how long that took.
    @discardableResult
    func stop() async throws -> Duration {
        let t0 = ContinuousClock.now
        await relay.shutdown()
        try await task.value
        let took = ContinuousClock.now - t0
        for c in clients { await c.close() }
        try? await group.shutdownGracefully()
        return took
    }
}

@Suite struct StandaloneRelayTests {
    static func relayStateDir(_ name: String) throws -> (String, String) {
        let dir = tempStateDir(name)
        return (dir, try StandaloneRelay.publicKey(stateDirectory: dir, logger: Logger(label: "test")))
    }

    static func coordinator(_ name: String, relayKey: String, keepAlive: Double = 50) async throws -> TestCoordinator {
        try await TestCoordinator.start(name, keepAlive: keepAlive) {
            $0.relays = [RelayInfo(id: "r2", url: "http://127.0.0.1:9/relay", key: relayKey)]
        }
    }

    @Test func itRelaysForActiveNodesOnlyAndDropsOnesThatExpire() async throws {
        let (dir, relayKey) = try Self.relayStateDir("srelay1")
        let server = try await Self.coordinator("srelay1c", relayKey: relayKey)
        let token = try await server.authKey(reusable: true)
        let a = TestNode(server: server), b = TestNode(server: server)
        let regA = try await a.register(token, hostname: "alpha")
        _ = try await b.register(token, hostname: "beta")
        let lab = try await StandaloneRelayLab.start(stateDir: dir, coordinatorURL: "http://127.0.0.1:\(server.port)",
                                                     coordinatorKey: server.keyBase64)
        #expect(lab.relay.publicKeyBase64 == relayKey)
        #expect(await eventually { lab.relay.admission.count == 2 })

        let inA = RelayInbox(), inB = RelayInbox()
        let ca = lab.client(a.key, inbox: inA), cb = lab.client(b.key, inbox: inB)
        #expect(await ca.waitUntilConnected())
        #expect(await cb.waitUntilConnected())
        #expect(ca.send(to: b.key.publicKey, packet: Array("via the second relay".utf8)))
        #expect(await eventually { inB.received(from: a.key.publicKey) == [Array("via the second relay".utf8)] })

        // A stranger proves its key but is no node: refused.
        var e = SodiumEntropy()
        let stranger = PrivateKey.generate(using: &e)
        let cs = lab.client(stranger, inbox: RelayInbox())
        #expect(await eventually { lab.relay.relay.stats.handshakesRefused >= 1 })
        #expect(!cs.isConnected && !lab.relay.relay.isConnected(stranger.publicKey))

        // A node that joins later is admitted once the coordinator's answer arrives.
        let c = TestNode(server: server)
        _ = try await c.register(token, hostname: "gamma")
        #expect(await eventually(within: .seconds(3)) { lab.relay.admission.count == 3 })
        let cc = lab.client(c.key, inbox: RelayInbox())
        #expect(await cc.waitUntilConnected())

        // The admin expires alpha: the waiting poll answers, the relay revokes it, its
        // connection drops within about a second.
        let t0 = ContinuousClock.now
        #expect(try await server.adminCall("POST", "/v1/nodes/\(regA.nodeID)/expire").status == 200)
        #expect(await eventually(within: .seconds(3)) { !ca.isConnected && !lab.relay.relay.isConnected(a.key.publicKey) })
        #expect(ContinuousClock.now - t0 < .seconds(3))
        #expect(lab.relay.relay.stats.revocations >= 1)
        #expect(cb.isConnected && cc.isConnected)

        // Alpha joins again (same key): the relay lifts the revocation and takes it back.
        _ = try await a.register(token, hostname: "alpha")
        #expect(await ca.waitUntilConnected(timeout: .seconds(5)))

        // SIGTERM-like stop while a long-poll waits at the coordinator (keepalive 50 s): prompt.
        let took = try await lab.stop()
        #expect(took < .seconds(5), "relay took \(took) to stop")
        try await server.stop()
    }

    @Test func withTheCoordinatorGoneTheLastListStays() async throws {
        let (dir, relayKey) = try Self.relayStateDir("srelay2")
        let server = try await Self.coordinator("srelay2c", relayKey: relayKey)
        let token = try await server.authKey(reusable: true)
        let a = TestNode(server: server)
        _ = try await a.register(token, hostname: "alpha")
        let lab = try await StandaloneRelayLab.start(stateDir: dir, coordinatorURL: "http://127.0.0.1:\(server.port)",
                                                     coordinatorKey: server.keyBase64)
        #expect(await eventually { lab.relay.admission.count == 1 })
        let ca = lab.client(a.key, inbox: RelayInbox())
        #expect(await ca.waitUntilConnected())

        try await server.stop()
        // The poll fails and retries (backoff capped at 0.3 s here) for a while: nothing changes.
        try await Task.sleep(for: .seconds(1.5))
        #expect(lab.relay.admission.count == 1 && lab.relay.admission.isReady)
        #expect(ca.isConnected)
        // A node that reconnects is still admitted from the kept list.
        let again = lab.client(a.key, inbox: RelayInbox())
        #expect(await again.waitUntilConnected())
        try await lab.stop()
    }

    @Test func beforeTheFirstListNobodyIsAdmitted() async throws {
        let (dir, _) = try Self.relayStateDir("srelay3")
        var e = SodiumEntropy()
        // Nothing listens on port 9 of loopback (discard is not run here): every poll fails.
        let lab = try await StandaloneRelayLab.start(stateDir: dir, coordinatorURL: "http://127.0.0.1:9",
                                                     coordinatorKey: PrivateKey.generate(using: &e).publicKey.base64)
        let someone = PrivateKey.generate(using: &e)
        let c = lab.client(someone, inbox: RelayInbox())
        #expect(await eventually { lab.relay.relay.stats.handshakesRefused >= 2 })
        #expect(!c.isConnected && !lab.relay.admission.isReady)
        // A friendly answer on the HTTP port, and a 404 elsewhere.
        let hello = try await SimpleHTTPClient.request(.tcp(host: "127.0.0.1", port: lab.port), method: "GET", path: "/")
        #expect(hello.status == 200 && hello.text.contains("meshcoord relay"))
        let other = try await SimpleHTTPClient.request(.tcp(host: "127.0.0.1", port: lab.port), method: "GET", path: "/v1/map")
        #expect(other.status == 404)
        let took = try await lab.stop()
        #expect(took < .seconds(5))
    }

    @Test func aRelayTheCoordinatorDoesNotListGetsNoNodes() async throws {
        let (dir, _) = try Self.relayStateDir("srelay4")
        let (_, otherKey) = try Self.relayStateDir("srelay4x")
        // The coordinator lists another relay's key, not this one's.
        let server = try await Self.coordinator("srelay4c", relayKey: otherKey)
        let token = try await server.authKey()
        let a = TestNode(server: server)
        _ = try await a.register(token, hostname: "alpha")
        let lab = try await StandaloneRelayLab.start(stateDir: dir, coordinatorURL: "http://127.0.0.1:\(server.port)",
                                                     coordinatorKey: server.keyBase64)
        let c = lab.client(a.key, inbox: RelayInbox())
        #expect(await eventually { lab.relay.relay.stats.handshakesRefused >= 2 })
        #expect(!c.isConnected && !lab.relay.admission.isReady)
        try await lab.stop()
        try await server.stop()
    }

    @Test func theStateDirectoryIsLockedAndTheKeyKept() async throws {
        let (dir, key) = try Self.relayStateDir("srelay5")
        #expect(try StandaloneRelay.publicKey(stateDirectory: dir, logger: Logger(label: "test")) == key)
        var st = stat()
        #expect(stat(dir + "/relay.key", &st) == 0 && st.st_mode & 0o777 == 0o600)
        var e = SodiumEntropy()
        let lab = try await StandaloneRelayLab.start(stateDir: dir, coordinatorURL: "http://127.0.0.1:9",
                                                     coordinatorKey: PrivateKey.generate(using: &e).publicKey.base64)
        // A second relay on the same directory is refused; printing the key still works.
        var second = StandaloneRelayConfig()
        second.stateDirectory = dir
        second.listenPort = 0
        second.stunPorts = []
        second.coordinatorURL = "http://127.0.0.1:9"
        second.coordinatorKey = PrivateKey.generate(using: &e).publicKey.base64
        #expect { _ = try StandaloneRelay(config: second) } throws: { "\($0)".contains("another meshcoord relay is already using") }
        #expect(try StandaloneRelay.publicKey(stateDirectory: dir, logger: Logger(label: "test")) == key)
        try await lab.stop()
        // A corrupted key is a clear error that says what to do.
        try "garbage\n".write(toFile: dir + "/relay.key", atomically: true, encoding: .utf8)
        #expect { _ = try StandaloneRelay.publicKey(stateDirectory: dir, logger: Logger(label: "test")) }
            throws: { "\($0)".contains("relay key") && "\($0)".contains("corrupted") && "\($0)".contains("--print-key") }
    }
}
