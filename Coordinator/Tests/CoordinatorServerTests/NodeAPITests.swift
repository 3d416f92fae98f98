import CoordinatorServer
import CoordinatorStore
import Foundation
import MeshCrypto
import MeshTestSupport
import MeshWire
import Testing

@Suite struct NodeAPITests {
    @Test func registrationRefusalsSayWhy() async throws {
        let server = try await TestCoordinator.start("refuse")
        let good = try await server.authKey()
        // Unknown: a well-formed secret this coordinator never made.
        var unknown = good
        unknown.secret = SodiumEntropy.bytes(32)
        let r1 = await failureCode { _ = try await TestNode(server: server).register(unknown) }
        #expect(r1?.0 == 401 && r1?.1 == "auth_key_unknown")
        // Missing.
        let r2 = await failureCode { _ = try await TestNode(server: server).register(secret: nil) }
        #expect(r2?.0 == 401 && r2?.1 == "auth_key_missing")
        // Expired (made with an expiry in the past, straight in the store).
        var expiredSecret = good
        expiredSecret.secret = SodiumEntropy.bytes(32)
        let now = Int64(Date().timeIntervalSince1970)
        _ = try await server.coordinator.store.createAuthKey(secret: expiredSecret.authSecret, reusable: true, expiresAt: now - 5,
                                                            tags: [], description: nil, now: now - 100)
        let r3 = await failureCode { _ = try await TestNode(server: server).register(expiredSecret) }
        #expect(r3?.0 == 403 && r3?.1 == "auth_key_expired")
        // Revoked through the admin API.
        let revoked = try await server.authKey(reusable: true)
        let list = try JSONDecoder().decode([AdminAuthKey].self, from: Data(try await server.adminCall("GET", "/v1/authkeys").body))
        let revokedID = try #require(list.last?.id)
        #expect(try await server.adminCall("POST", "/v1/authkeys/\(revokedID)/revoke").status == 200)
        let r4 = await failureCode { _ = try await TestNode(server: server).register(revoked) }
        #expect(r4?.0 == 403 && r4?.1 == "auth_key_revoked")
        // Single-use, already used.
        _ = try await TestNode(server: server).register(good)
        var message = ""
        let r5 = await failureCode {
            do { _ = try await TestNode(server: server).register(good) } catch let e as NodeCallError {
                message = e.body?.error ?? ""
                throw e
            }
        }
        #expect(r5?.0 == 403 && r5?.1 == "auth_key_used")
        #expect(message.contains("already been used"))
        // Only the one good registration made it.
        let nodes = try JSONDecoder().decode([AdminNode].self, from: Data(try await server.adminCall("GET", "/v1/nodes").body))
        #expect(nodes.count == 1)
        try await server.stop()
    }

    @Test func twoHundredConcurrentRegistrations() async throws {
        let server = try await TestCoordinator.start("conc")
        let token = try await server.authKey(reusable: true)
        let results = try await withThrowingTaskGroup(of: RegisterResponse.self) { group in
            for _ in 0..<200 {
                group.addTask { try await TestNode(server: server).register(token, hostname: "laptop") }
            }
            var out: [RegisterResponse] = []
            for try await r in group { out.append(r) }
            return out
        }
        #expect(results.count == 200)
        #expect(Set(results.map(\.ipv4)).count == 200)
        #expect(Set(results.map(\.ipv6)).count == 200)
        #expect(Set(results.map(\.name)).count == 200)
        #expect(Set(results.map(\.nodeID)).count == 200)
        #expect(Set(results.map(\.name)) == Set(["laptop"] + (2...200).map { "laptop-\($0)" }))
        for r in results {
            #expect(r.ipv4.hasPrefix("100.") && r.ipv4Prefix == "100.64.0.0/10")
            #expect(r.ipv6.hasPrefix("fd"))
            #expect(r.relays.first?.url.hasSuffix("/relay") == true)
        }
        try await server.stop()
    }

    @Test func fullMapThenDeltas() async throws {
        let server = try await TestCoordinator.start("map")
        let token = try await server.authKey(reusable: true)
        let a = TestNode(server: server), b = TestNode(server: server)
        let ra = try await a.register(token, hostname: "alpha")
        let rb = try await b.register(token, hostname: "beta")
        let full = try await a.map(endpoints: ["192.0.2.10:41641"])
        #expect(full.kind == .full)
        #expect(full.selfNode?.id == ra.nodeID)
        #expect(full.selfNode?.endpoints == ["192.0.2.10:41641"])
        #expect(full.peers?.map(\.id) == [rb.nodeID])
        #expect(full.peers?.first?.nodeKey == b.publicKeyBase64)
        #expect(full.peers?.first?.discoKey == b.discoKey)
        #expect(full.relays?.isEmpty == false && full.domain == "mesh")
        // Nothing new: an immediate "no change" when asked not to wait.
        let same = try await a.map(since: full.version, wait: false)
        #expect(same.kind == .keepAlive && same.version == full.version)
        // b moves; a's next poll carries only b.
        _ = try await b.endpoints(["198.51.100.7:1234", "[2001:db8::7]:1234"])
        let delta = try await a.map(since: full.version)
        #expect(delta.kind == .delta)
        #expect(delta.peersChanged?.map(\.id) == [rb.nodeID])
        #expect(delta.peersChanged?.first?.endpoints == ["198.51.100.7:1234", "[2001:db8::7]:1234"])
        #expect(delta.peers == nil && delta.selfNode == nil)
        // b sees a's endpoints in its full map.
        let bFull = try await b.map()
        #expect(bFull.peers?.first?.endpoints == ["192.0.2.10:41641"])
        #expect(bFull.peers?.first?.online == true)
        // An admin rename reaches the node itself as a delta with "self".
        let renamed = try await server.adminCall("POST", "/v1/nodes/\(ra.nodeID)/rename", body: AdminRenameRequest(name: "alpha-prime"))
        #expect(renamed.status == 200)
        let selfDelta = try await a.map(since: delta.version)
        #expect(selfDelta.selfNode?.name == "alpha-prime")
        try await server.stop()
    }

    @Test func removedNodeDisappearsFromOtherNodesNextDelta() async throws {
        let server = try await TestCoordinator.start("remove")
        let token = try await server.authKey(reusable: true)
        let nodes = (0..<4).map { _ in TestNode(server: server) }
        var ids: [Int64] = []
        for n in nodes { ids.append(try await n.register(token).nodeID) }
        var versions: [UInt64] = []
        for n in nodes.dropFirst() { versions.append(try await n.map().version) }
        // Polls wait; the admin removes node 0 (and later expires node 1).
        let polls = Task { [versions] in
            try await withThrowingTaskGroup(of: MapResponse.self) { g in
                for (i, n) in nodes.dropFirst().enumerated() { g.addTask { try await n.map(since: versions[i]) } }
                var out: [MapResponse] = []
                for try await r in g { out.append(r) }
                return out
            }
        }
        #expect(await eventually { server.coordinator.hub.waitingCount == 3 })
        let del = try await server.adminCall("DELETE", "/v1/nodes/\(ids[0])")
        #expect(del.status == 200)
        for r in try await polls.value {
            #expect(r.kind == .delta)
            #expect(r.peersRemoved == [ids[0]])
            #expect(r.peersChanged == nil)
        }
        // The removed node is refused from now on.
        let gone = await failureCode { _ = try await nodes[0].map() }
        #expect(gone?.0 == 401 && gone?.1 == "node_unknown")
        // Expiry: also a removal in others' deltas; the expired node must re-register.
        let v = try await nodes[2].map().version
        #expect(try await server.adminCall("POST", "/v1/nodes/\(ids[1])/expire").status == 200)
        let after = try await nodes[2].map(since: v)
        #expect(after.peersRemoved == [ids[1]])
        let expired = await failureCode { _ = try await nodes[1].map() }
        #expect(expired?.0 == 403 && expired?.1 == "node_expired")
        let list = try JSONDecoder().decode([AdminNode].self, from: Data(try await server.adminCall("GET", "/v1/nodes").body))
        #expect(list.map(\.id) == [ids[1], ids[2], ids[3]])
        #expect(list.first?.state == "expired")
        try await server.stop()
    }

    @Test func logoutAndComeBack() async throws {
        let server = try await TestCoordinator.start("logout")
        let token = try await server.authKey(reusable: true)
        let a = TestNode(server: server), b = TestNode(server: server)
        let ra = try await a.register(token)
        _ = try await b.register(token)
        let v = try await b.map().version
        let out = try await a.call("/v1/logout", LogoutRequest(reason: "test"), as: LogoutResponse.self)
        #expect(out.loggedOut)
        #expect(try await b.map(since: v).peersRemoved == [ra.nodeID])
        let refused = await failureCode { _ = try await a.register(secret: nil) }
        #expect(refused?.1 == "node_expired")
        let back = try await a.register(token)
        #expect(back.nodeID == ra.nodeID && back.ipv4 == ra.ipv4 && back.ipv6 == ra.ipv6)
        try await server.stop()
    }

    /// 100 nodes hold long-polls; one node's endpoint change must reach all of them within 1 s.
    @Test func fanOutToHundredWaitingPollsWithinOneSecond() async throws {
        let server = try await TestCoordinator.start("fanout")
        let token = try await server.authKey(reusable: true)
        let mover = TestNode(server: server)
        let moverID = try await mover.register(token, hostname: "mover").nodeID
        let waiters = (0..<100).map { _ in TestNode(server: server) }
        try await withThrowingTaskGroup(of: Void.self) { g in
            for w in waiters { g.addTask { _ = try await w.register(token, hostname: "waiter") } }
            try await g.waitForAll()
        }
        let version = try await mover.map().version
        let start = Task {
            try await withThrowingTaskGroup(of: (MapResponse, ContinuousClock.Instant).self) { g in
                for w in waiters { g.addTask { (try await w.map(since: version), ContinuousClock.now) } }
                var out: [(MapResponse, ContinuousClock.Instant)] = []
                for try await r in g { out.append(r) }
                return out
            }
        }
        #expect(await eventually { server.coordinator.hub.waitingCount == 100 })
        let changedAt = ContinuousClock.now
        _ = try await mover.endpoints(["203.0.113.5:41641"])
        let answers = try await start.value
        let slowest = answers.map { $0.1 - changedAt }.max()!
        #expect(answers.count == 100)
        for (r, _) in answers {
            #expect(r.kind == .delta)
            #expect(r.peersChanged?.map(\.id) == [moverID])
            #expect(r.peersChanged?.first?.endpoints == ["203.0.113.5:41641"])
        }
        print("fan-out: 100 waiting polls answered \(slowest) after the change")
        #expect(slowest < .seconds(1), "slowest poll answered after \(slowest)")
        try await server.stop()
    }

    @Test func keepAliveAfterTimeout() async throws {
        let server = try await TestCoordinator.start("keepalive", keepAlive: 0.5)
        let token = try await server.authKey()
        let a = TestNode(server: server)
        _ = try await a.register(token)
        let v = try await a.map().version
        let t0 = ContinuousClock.now
        let r = try await a.map(since: v)
        let took = ContinuousClock.now - t0
        #expect(r.kind == .keepAlive && r.version == v)
        #expect(took >= .milliseconds(400) && took < .seconds(3))
        try await server.stop()
    }

    @Test func reRegistrationIsIdempotent() async throws {
        let server = try await TestCoordinator.start("rereg")
        let token = try await server.authKey()
        let a = TestNode(server: server)
        let first = try await a.register(token, hostname: "host")
        // Same node key again (a lost answer): same node, the single-use key is not needed.
        let again = try await a.register(secret: nil, hostname: "host")
        #expect(again == first)
        try await server.stop()
    }

    @Test func restartKeepsEverything() async throws {
        let dir = tempStateDir("restart")
        var server = try await TestCoordinator.start("restart", dir: dir)
        let token = try await server.authKey(reusable: true)
        let a = TestNode(server: server)
        let ra = try await a.register(token, hostname: "keep")
        let key = server.keyBase64
        try await server.stop()
        server = try await TestCoordinator.start("restart", dir: dir)
        #expect(server.keyBase64 == key)
        // Same node key → same node, same addresses, after the restart.
        var node = a
        node.target = server.target
        let again = try await node.register(secret: nil, hostname: "keep")
        #expect(again.nodeID == ra.nodeID && again.ipv4 == ra.ipv4 && again.ipv6 == ra.ipv6 && again.name == ra.name)
        // The reusable key still works.
        _ = try await TestNode(server: server).register(token)
        try await server.stop()
    }
}
