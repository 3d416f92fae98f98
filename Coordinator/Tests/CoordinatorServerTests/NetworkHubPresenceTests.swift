import CoordinatorServer
import Foundation
import MeshTestSupport
import MeshWire
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Presence follows the node's long-poll connection: a node whose connection goes away while
/// its poll waits (a killed meshd) is offline `NetworkHub.disconnectGraceSeconds` later, and
/// its peers' waiting polls hear it at once. The sweeps are run with chosen times, so nothing
/// here sleeps through a grace period.
@Suite struct NetworkHubPresenceTests {
    static let grace = NetworkHub.disconnectGraceSeconds
    static func unixNow() -> Int64 { Int64(Date().timeIntervalSince1970) }

    /// Two registered nodes that have each polled once (online), and the netmap version.
    static func twoOnlineNodes(_ server: TestCoordinator) async throws -> (a: TestNode, b: TestNode, bID: Int64, version: UInt64) {
        let token = try await server.authKey(reusable: true)
        let a = TestNode(server: server), b = TestNode(server: server)
        _ = try await a.register(token, hostname: "a")
        let bID = try await b.register(token, hostname: "b").nodeID
        _ = try await a.map(wait: false)
        let version = try await b.map(wait: false).version
        #expect(server.coordinator.hub.node(id: bID)?.online == true)
        return (a, b, bID, max(version, server.coordinator.hub.version))
    }

    /// Starts `node`'s long-poll on a raw connection (so the test can drop it like a killed
    /// process would) and waits until the hub holds it.
    static func rawLongPoll(_ node: TestNode, since: UInt64, server: TestCoordinator) async throws -> RawSocket {
        let sealed = try node.seal(MapRequest(sinceVersion: since))
        let socket = try #require(RawSocket.connect(from: "127.0.0.2", port: server.port))
        let head = "POST /v1/map HTTP/1.1\r\nHost: coord\r\nContent-Type: application/json\r\nContent-Length: \(sealed.bytes.count)\r\n\r\n"
        let request = Array(head.utf8) + sealed.bytes
        let sent = request.withUnsafeBytes { send(socket.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        #expect(sent == request.count)
        let waiting = server.coordinator.hub.waitingCount
        #expect(await eventually { server.coordinator.hub.waitingCount > waiting })
        return socket
    }

    static func isStale(_ server: TestCoordinator, _ id: Int64, at now: Int64, offlineAfter: Int64 = 3600) -> Bool {
        server.coordinator.hub.staleOnlineNodes(now: now, offlineAfter: offlineAfter, startedAt: 0)
            .contains { $0.0 == id }
    }

    @Test func aNodeWhoseConnectionDropsIsOfflineAfterTheGraceAndPeersHearAtOnce() async throws {
        try await withServer("presence-gone") { server in
            let (a, b, bID, version) = try await Self.twoOnlineNodes(server)
            let socket = try await Self.rawLongPoll(b, since: version, server: server)
            let peerPoll = Task { try await a.map(since: version) }
            #expect(await eventually { server.coordinator.hub.waitingCount >= 2 })
            let closedAt = Self.unixNow()
            socket.closeSocket()
            // The poll ends as soon as the coordinator sees the close; then only the grace is left.
            #expect(await eventually { Self.isStale(server, bID, at: closedAt + Self.grace + 1) })
            #expect(!Self.isStale(server, bID, at: closedAt + Self.grace - 2), "offline before the grace ran out")
            #expect(server.coordinator.hub.node(id: bID)?.online == true)
            await server.coordinator.markStaleNodesOffline(now: closedAt + Self.grace + 1)
            #expect(server.coordinator.hub.node(id: bID)?.online == false)
            let delta = try await peerPoll.value
            let seen = try #require(delta.peersChanged?.first { $0.id == bID })
            #expect(delta.kind == .delta && seen.online == false)
            #expect(seen.lastSeen.map { abs($0 - closedAt) <= 1 } == true, "last seen \(String(describing: seen.lastSeen))")
            // Its next poll brings it back.
            _ = try await b.map(wait: false)
            #expect(server.coordinator.hub.node(id: bID)?.online == true)
        }
    }

    @Test func aPollAnsweredNormallyIsNotADisconnect() async throws {
        try await withServer("presence-answered", keepAlive: 0.3) { server in
            let (_, b, bID, version) = try await Self.twoOnlineNodes(server)
            let r = try await b.map(since: version)
            #expect(r.kind == .keepAlive)
            let answeredAt = Self.unixNow()
            // Between two polls of the normal cycle, however long the sweep waits: no grace rule.
            #expect(!Self.isStale(server, bID, at: answeredAt + Self.grace + 30))
            await server.coordinator.markStaleNodesOffline(now: answeredAt + Self.grace + 30)
            #expect(server.coordinator.hub.node(id: bID)?.online == true)
            // The silence rule (offline_after_seconds) still applies.
            #expect(Self.isStale(server, bID, at: answeredAt + 61, offlineAfter: 60))
        }
    }

    @Test func aPollReopenedWithinTheGraceKeepsTheNodeOnline() async throws {
        try await withServer("presence-reopened") { server in
            let (_, b, bID, version) = try await Self.twoOnlineNodes(server)
            let socket = try await Self.rawLongPoll(b, since: version, server: server)
            let closedAt = Self.unixNow()
            socket.closeSocket()
            #expect(await eventually { Self.isStale(server, bID, at: closedAt + Self.grace + 1) })
            // A restarted meshd polls again at once.
            _ = try await b.map(wait: false)
            #expect(!Self.isStale(server, bID, at: closedAt + Self.grace + 1))
            await server.coordinator.markStaleNodesOffline(now: closedAt + Self.grace + 1)
            #expect(server.coordinator.hub.node(id: bID)?.online == true)
        }
    }

    @Test func aPollStillOpenIsNeverStale() async throws {
        try await withServer("presence-open") { server in
            let (_, b, bID, version) = try await Self.twoOnlineNodes(server)
            let socket = try await Self.rawLongPoll(b, since: version, server: server)
            defer { socket.closeSocket() }
            #expect(!Self.isStale(server, bID, at: Self.unixNow() + 3600, offlineAfter: 60))
        }
    }
}
