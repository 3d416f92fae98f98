import CoordinatorServer
import Foundation
import MeshCrypto
import MeshHTTP
import MeshTestSupport
import MeshWire
import NIOCore
import Testing

/// `POST /v1/relay/nodes`: a configured relay learns the active node keys; nobody else does.
@Suite struct RelayNodesAPITests {
    /// A coordinator with one `[[relay]]` whose key is `relayKey`.
    static func start(_ name: String, relayKey: PrivateKey, keepAlive: Double = 50) async throws -> TestCoordinator {
        let pub = relayKey.publicKey.base64
        return try await TestCoordinator.start(name, keepAlive: keepAlive) {
            $0.relays = [RelayInfo(id: "r2", name: "second", url: "http://192.0.2.1:8080/relay", stunPorts: [3478, 3479], key: pub)]
        }
    }

    static func client(_ server: TestCoordinator, keyBytes: [UInt8]) throws -> RelayNodesClient {
        try RelayNodesClient(coordinatorURL: "http://127.0.0.1:\(server.port)", coordinatorKeyBytes: server.coordinator.publicKey.rawBytes,
                             relayKeyBytes: keyBytes)
    }

    static func fetch(_ c: RelayNodesClient, since: UInt64?, wait: Bool) async throws -> RelayNodesResponse {
        try await c.fetch(RelayNodesRequest(sinceVersion: since, wait: wait), timeout: .seconds(30))
    }

    @Test func aConfiguredRelayGetsTheActiveNodeKeysThenOnlyChanges() async throws {
        var e = SodiumEntropy()
        let relayKey = PrivateKey.generate(using: &e)
        let server = try await Self.start("rnodes", relayKey: relayKey, keepAlive: 2)
        do {
            let token = try await server.authKey(reusable: true)
            let a = TestNode(server: server), b = TestNode(server: server)
            let reg = try await a.register(token, hostname: "alpha")
            // Nodes get the coordinator's relay first (pinned to its key), then the extra.
            #expect(reg.relays.map(\.id) == ["default", "r2"])
            #expect(reg.relays[0].key == server.keyBase64 && reg.relays[0].url == "http://127.0.0.1:\(server.port)/relay")
            #expect(reg.relays[1].key == relayKey.publicKey.base64)

            let relay = try Self.client(server, keyBytes: relayKey.rawBytes)
            let first = try await Self.fetch(relay, since: nil, wait: false)
            #expect(first.nodeKeys == [a.publicKeyBase64])
            #expect(first.version == server.coordinator.hub.version)

            // Same version: unchanged, no list.
            let same = try await Self.fetch(relay, since: first.version, wait: false)
            #expect(same.nodeKeys == nil && same.version == first.version)

            // Netmap changes that keep the set (endpoints) move the version but send no list.
            _ = try await a.endpoints(["192.0.2.10:41641"])
            let moved = try await Self.fetch(relay, since: first.version, wait: false)
            #expect(moved.version > first.version && moved.nodeKeys == nil)

            // A waiting request is answered when the set changes (beta joins), well before the keepalive.
            let since = moved.version
            let waiting = Task { try await Self.fetch(relay, since: since, wait: true) }
            try await Task.sleep(for: .milliseconds(300))
            let t0 = ContinuousClock.now
            _ = try await b.register(token, hostname: "beta")
            let joined = try await waiting.value
            #expect(ContinuousClock.now - t0 < .seconds(1.5))
            #expect(joined.nodeKeys == [a.publicKeyBase64, b.publicKeyBase64].sorted())

            // Nothing changes: the wait ends at the keepalive (2 s) with no list.
            let t1 = ContinuousClock.now
            let quiet = try await Self.fetch(relay, since: joined.version, wait: true)
            let held = ContinuousClock.now - t1
            #expect(quiet.nodeKeys == nil && held >= .seconds(1.5) && held < .seconds(6), "\(held)")

            // The admin expires alpha: the list drops it.
            let alpha = try #require(server.coordinator.hub.node(key: a.publicKeyBase64))
            #expect(try await server.adminCall("POST", "/v1/nodes/\(alpha.id)/expire").status == 200)
            let expired = try await Self.fetch(relay, since: quiet.version, wait: false)
            #expect(expired.nodeKeys == [b.publicKeyBase64])
            try await server.stop()
        } catch {
            try? await server.stop()
            throw error
        }
    }

    @Test func aKeyThatIsNoConfiguredRelayIsRefused() async throws {
        var e = SodiumEntropy()
        let relayKey = PrivateKey.generate(using: &e)
        let server = try await Self.start("rnodes2", relayKey: relayKey)
        do {
            let token = try await server.authKey(reusable: true)
            let node = TestNode(server: server)
            _ = try await node.register(token, hostname: "alpha")
            let stranger = PrivateKey.generate(using: &e)
            // A stranger's key, and a registered node's key: neither is a [[relay]] key.
            for keyBytes in [stranger.rawBytes, node.keyBytes] {
                let c = try Self.client(server, keyBytes: keyBytes)
                do {
                    let r = try await Self.fetch(c, since: nil, wait: false)
                    Issue.record("a key that is not a relay's got \(r.nodeKeys?.count ?? -1) node keys")
                } catch RelayNodesFetchError.refused(let status, let body, _) {
                    #expect(status == 401)
                    #expect(body?.code == ErrorCode.nodeUnknown.rawValue)
                    #expect(body?.error.contains("[[relay]]") == true, "\(String(describing: body))")
                }
            }
            // The same through TestNode's sealing (what any client would send).
            let code = await failureCode { _ = try await node.call("/v1/relay/nodes", RelayNodesRequest(), as: RelayNodesResponse.self) }
            #expect(code?.0 == 401 && code?.1 == "node_unknown", "\(String(describing: code))")
            // The configured relay is answered.
            let ok = try await Self.fetch(try Self.client(server, keyBytes: relayKey.rawBytes), since: nil, wait: false)
            #expect(ok.nodeKeys == [node.publicKeyBase64])
            try await server.stop()
        } catch {
            try? await server.stop()
            throw error
        }
    }

    @Test func aRelayOnlyHearsTheCoordinatorItPinned() async throws {
        var e = SodiumEntropy()
        let relayKey = PrivateKey.generate(using: &e)
        let server = try await Self.start("rnodes3", relayKey: relayKey)
        do {
            // The relay pinned some other coordinator key: the request does not even open there,
            // and nothing it could answer would open here.
            let wrong = PrivateKey.generate(using: &e).publicKey.rawBytes
            let c = try RelayNodesClient(coordinatorURL: "http://127.0.0.1:\(server.port)", coordinatorKeyBytes: wrong,
                                         relayKeyBytes: relayKey.rawBytes)
            await #expect(throws: RelayNodesFetchError.self) { _ = try await Self.fetch(c, since: nil, wait: false) }
            try await server.stop()
        } catch {
            try? await server.stop()
            throw error
        }
    }

    @Test func coordinatorURLsAreParsedStrictly() throws {
        let (t, p) = try RelayNodesClient.parse(url: "http://coord.example.com:8443/mesh/")
        #expect("\(t)" == "coord.example.com:8443" && p == "/mesh")
        #expect("\(try RelayNodesClient.parse(url: "http://[2001:db8::1]:80").0)" == "2001:db8::1:80")
        #expect("\(try RelayNodesClient.parse(url: "http://192.0.2.1").0)" == "192.0.2.1:80")
        #expect("\(try RelayNodesClient.parse(url: "https://mesh.example.com").0)" == "mesh.example.com:443 (TLS)")
        for bad in ["coord.example.com:8080", "http://", "http://h:0", "http://h:70000",
                    "http://h:+80", "http://[2001:db8::1", "ftp://h"] {
            #expect(throws: (any Error).self, "\(bad)") { _ = try RelayNodesClient.parse(url: bad) }
        }
    }
}
