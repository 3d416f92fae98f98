import CoordinatorServer
import Foundation
import MeshCrypto
import MeshHTTP
import MeshTestSupport
import MeshWire
import NIOCore
import NIOPosix
import Relay
import RelayIO
import Synchronization
import Testing

/// What a relay client received.
final class RelayInbox: Sendable {
    let packets = Mutex<[(PublicKey, [UInt8])]>([])
    let gone = Mutex<[(PublicKey, RelayFrame.PeerGoneReason)]>([])
    func received(from key: PublicKey) -> [[UInt8]] { packets.withLock { $0.filter { $0.0 == key }.map(\.1) } }
    func wasToldGone(_ key: PublicKey) -> Bool { gone.withLock { $0.contains { $0.0 == key } } }
}

/// A node registered through the node API plus a relay client on the coordinator's HTTP port.
struct RelayTestNode: Sendable {
    let node: TestNode
    let id: Int64
    let client: RelayClient
    let inbox: RelayInbox
    var publicKey: PublicKey { node.key.publicKey }
}

/// The coordinator's own port, relay and node API, driven like meshd would.
final class RelayIntegrationLab: Sendable {
    let server: TestCoordinator
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let token: JoinToken

    init(server: TestCoordinator) async throws {
        self.server = server
        token = try await server.authKey(reusable: true)
    }

    func client(key: PrivateKey, inbox: RelayInbox) -> RelayClient {
        var conf = RelayClient.Configuration(host: "127.0.0.1", port: server.port,
                                             pinnedServerKey: server.coordinator.publicKey)
        conf.backoff = Backoff(initial: .milliseconds(50), maximum: .milliseconds(300))
        conf.tickInterval = .milliseconds(100)
        let c = RelayClient(nodeKey: key, configuration: conf, group: group,
                            onReceive: { k, p in inbox.packets.withLock { $0.append((k, p)) } },
                            onPeerGone: { k, r in inbox.gone.withLock { $0.append((k, r)) } })
        c.start()
        return c
    }

    func node(_ hostname: String) async throws -> RelayTestNode {
        let n = TestNode(server: server)
        let r = try await n.register(token, hostname: hostname)
        #expect(r.relays.count == 1)
        #expect(r.relays.first?.url == "http://127.0.0.1:\(server.port)/relay")
        let inbox = RelayInbox()
        let c = client(key: n.key, inbox: inbox)
        return RelayTestNode(node: n, id: r.nodeID, client: c, inbox: inbox)
    }

    func shutdown(_ clients: [RelayClient]) async {
        for c in clients { await c.close() }
        try? await group.shutdownGracefully()
    }
}

@Suite struct RelayIntegrationTests {
    @Test func registeredNodesExchangePacketsThroughTheCoordinatorsPort() async throws {
        let server = try await TestCoordinator.start("relay1")
        let lab = try await RelayIntegrationLab(server: server)
        let a = try await lab.node("alpha"), b = try await lab.node("beta")
        #expect(await a.client.waitUntilConnected())
        #expect(await b.client.waitUntilConnected())
        #expect(a.client.state == .connected(serverKey: server.coordinator.publicKey))

        #expect(a.client.send(to: b.publicKey, packet: Array("hello beta".utf8)))
        #expect(b.client.send(to: a.publicKey, packet: Array("hello alpha".utf8)))
        #expect(await eventually { b.inbox.received(from: a.publicKey).count == 1 && a.inbox.received(from: b.publicKey).count == 1 })
        #expect(b.inbox.received(from: a.publicKey) == [Array("hello beta".utf8)])
        #expect(a.inbox.received(from: b.publicKey) == [Array("hello alpha".utf8)])
        for i in 0..<50 { a.client.send(to: b.publicKey, packet: [UInt8](repeating: UInt8(i), count: 1200)) }
        #expect(await eventually { b.inbox.received(from: a.publicKey).count == 51 })
        #expect(server.coordinator.relay.stats.packetsForwarded == 52)

        // The HTTP API still answers on the same port, relay connections open.
        let hello = try await SimpleHTTPClient.request(server.target, method: "GET", path: "/")
        #expect(hello.status == 200 && hello.text.contains("meshcoord"))
        let map = try await a.node.map()
        #expect(map.peers?.map(\.name) == ["beta"])
        // A plain GET /relay (no upgrade) is just an unknown path to the API.
        let plain = try await SimpleHTTPClient.request(server.target, method: "GET", path: "/relay")
        #expect(plain.status == 404)

        // Graceful shutdown with relay connections open: the relay closes them, the server stops.
        let started = ContinuousClock.now
        try await server.stop()
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(await eventually(within: .seconds(2)) { !a.client.isConnected && !b.client.isConnected })
        await lab.shutdown([a.client, b.client])
    }

    @Test func aKeyThatIsNotARegisteredNodeIsRefused() async throws {
        try await withServer("relay2") { server in
            let lab = try await RelayIntegrationLab(server: server)
            let a = try await lab.node("alpha")
            #expect(await a.client.waitUntilConnected())

            var e = SodiumEntropy()
            let stranger = PrivateKey.generate(using: &e)
            let inbox = RelayInbox()
            let s = lab.client(key: stranger, inbox: inbox)
            #expect(await eventually { server.coordinator.relay.stats.handshakesRefused >= 2 })
            #expect(!s.isConnected)
            #expect(!server.coordinator.relay.isConnected(stranger.publicKey))
            // Nobody can reach it, and it reaches nobody.
            #expect(!s.send(to: a.publicKey, packet: [1, 2, 3]))
            #expect(a.inbox.packets.withLock { $0.isEmpty })
            await lab.shutdown([a.client, s])
        }
    }

    @Test func removedExpiredAndLoggedOutNodesAreCutOffAtOnce() async throws {
        try await withServer("relay3") { server in
            let lab = try await RelayIntegrationLab(server: server)
            let a = try await lab.node("alpha"), b = try await lab.node("beta")
            let c = try await lab.node("gamma"), d = try await lab.node("delta")
            for n in [a, b, c, d] { #expect(await n.client.waitUntilConnected()) }
            #expect(b.client.send(to: a.publicKey, packet: [1]))
            #expect(await eventually { a.inbox.received(from: b.publicKey).count == 1 })

            // Admin removes alpha: its relay connection is closed within 1 s.
            let removed = try await server.adminCall("DELETE", "/v1/nodes/\(a.id)")
            #expect(removed.status == 200, "\(removed.text)")
            #expect(!server.coordinator.relay.isConnected(a.publicKey))
            let t0 = ContinuousClock.now
            #expect(await eventually(within: .seconds(1)) { !a.client.isConnected })
            #expect(ContinuousClock.now - t0 < .seconds(1))
            // Beta, sending to it, is told it is gone.
            b.client.send(to: a.publicKey, packet: [2])
            #expect(await eventually(within: .seconds(2)) { b.inbox.wasToldGone(a.publicKey) })
            // Alpha keeps trying and is refused.
            let refused = server.coordinator.relay.stats.handshakesRefused
            #expect(await eventually { server.coordinator.relay.stats.handshakesRefused > refused })
            #expect(!a.client.isConnected)
            #expect(a.inbox.received(from: b.publicKey).count == 1)

            // Admin expires gamma.
            let expired = try await server.adminCall("POST", "/v1/nodes/\(c.id)/expire")
            #expect(expired.status == 200, "\(expired.text)")
            #expect(!server.coordinator.relay.isConnected(c.publicKey))
            #expect(await eventually(within: .seconds(1)) { !c.client.isConnected })

            // Delta logs out.
            let out = try await d.node.call("/v1/logout", LogoutRequest(), as: LogoutResponse.self)
            #expect(out.loggedOut)
            #expect(!server.coordinator.relay.isConnected(d.publicKey))
            #expect(await eventually(within: .seconds(1)) { !d.client.isConnected })

            // Beta is untouched.
            #expect(b.client.isConnected)
            #expect(server.coordinator.relay.connectedNodeKeys == [b.publicKey])

            // Delta registers again (same key, fresh auth key): the relay takes it back.
            _ = try await d.node.register(lab.token, hostname: "delta")
            #expect(await d.client.waitUntilConnected())
            #expect(d.client.send(to: b.publicKey, packet: [3]))
            #expect(await eventually { b.inbox.received(from: d.publicKey) == [[3]] })
            await lab.shutdown([a.client, b.client, c.client, d.client])
        }
    }
}
