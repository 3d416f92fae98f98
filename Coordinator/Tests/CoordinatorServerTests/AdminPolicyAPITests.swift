import CoordinatorServer
import CoordinatorStore
import Foundation
import MeshHTTP
import MeshTestSupport
import MeshWire
import Testing

/// Users, tags and the access policy through the admin socket, and what nodes' map polls
/// carry under a policy (issue 11, coordinator side), over real sockets.
@Suite struct AdminPolicyAPITests {
    static let policy = """
        {
          // dev may reach the database; members the web servers.
          "groups": {"group:dev": ["alice"]},
          "tagOwners": {"tag:db": ["alice"], "tag:web": []},
          "acls": [
            {"action": "accept", "src": ["group:dev"], "dst": ["tag:db:5432"]},
            {"action": "accept", "src": ["autogroup:member"], "dst": ["tag:web:80,443"]},
          ],
          "tests": [
            {"src": "alice", "accept": ["tag:db:5432", "tag:web:443"], "deny": ["tag:db:22"]},
            {"src": "bob", "accept": ["tag:web:80"], "deny": ["tag:db:5432"]},
          ],
        }
        """

    struct Mesh {
        var alice: TestNode, bob: TestNode, db: TestNode, web: TestNode
        var ids: (alice: Int64, bob: Int64, db: Int64, web: Int64)
    }

    static func decode<T: Decodable>(_ r: SimpleHTTPClient.Response, _ type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(r.body))
    }

    static func token(_ server: TestCoordinator, _ req: AdminCreateAuthKeyRequest) async throws -> JoinToken {
        let r = try await server.adminCall("POST", "/v1/authkeys", body: req)
        guard r.status == 201 else { throw NodeCallError(status: r.status, body: nil, raw: r.text) }
        return try JoinToken(parsing: try decode(r, AdminCreateAuthKeyResponse.self).token)
    }

    /// alice and bob (users), db and web (tagged), registered before any policy.
    static func mesh(_ server: TestCoordinator) async throws -> Mesh {
        for name in ["alice", "bob"] {
            #expect(try await server.adminCall("POST", "/v1/users", body: AdminCreateUserRequest(name: name)).status == 201)
        }
        let m = Mesh(alice: TestNode(server: server), bob: TestNode(server: server), db: TestNode(server: server),
                     web: TestNode(server: server), ids: (0, 0, 0, 0))
        var mesh = m
        mesh.ids.alice = try await m.alice.register(try await token(server, .init(user: "alice")), hostname: "alice").nodeID
        mesh.ids.bob = try await m.bob.register(try await token(server, .init(user: "bob")), hostname: "bob").nodeID
        mesh.ids.db = try await m.db.register(try await token(server, .init(tags: ["tag:db"])), hostname: "db").nodeID
        mesh.ids.web = try await m.web.register(try await token(server, .init(tags: ["tag:web"])), hostname: "web").nodeID
        return mesh
    }

    static func setPolicy(_ server: TestCoordinator, _ text: String) async throws -> SimpleHTTPClient.Response {
        try await server.adminCall("PUT", "/v1/policy", body: AdminPolicyText(text: text))
    }

    @Test func usersKeysAndTagsFollowThePolicysTagOwners() async throws {
        try await withServer("users") { server in
            let bad = try await server.adminCall("POST", "/v1/users", body: AdminCreateUserRequest(name: "has space"))
            #expect(bad.status == 400 && bad.text.contains("not a valid user name"), "\(bad.text)")
            let m = try await Self.mesh(server)
            #expect(try await server.adminCall("POST", "/v1/users", body: AdminCreateUserRequest(name: "alice")).status == 409)
            let users = try Self.decode(try await server.adminCall("GET", "/v1/users"), [AdminUser].self)
            #expect(users.map(\.name) == ["alice", "bob"] && users.map(\.nodes) == [1, 1])
            // No policy: any tag goes; the netmap names users (not for tagged nodes).
            #expect(try await server.adminCall("POST", "/v1/authkeys", body: AdminCreateAuthKeyRequest(tags: ["tag:anything"])).status == 201)
            let full = try await m.bob.map()
            #expect(full.packetFilter == nil && full.peers?.count == 3)
            #expect(full.peers?.first { $0.id == m.ids.alice }?.user == "alice")
            #expect(full.peers?.first { $0.id == m.ids.db }.map { $0.user == nil && $0.tags == ["tag:db"] } == true)
            let unknownUser = try await server.adminCall("POST", "/v1/authkeys", body: AdminCreateAuthKeyRequest(user: "carol"))
            #expect(unknownUser.status == 404, "\(unknownUser.text)")

            #expect(try await Self.setPolicy(server, Self.policy).status == 200)
            for (req, ok) in [(AdminCreateAuthKeyRequest(tags: ["tag:anything"]), false),
                              (AdminCreateAuthKeyRequest(tags: ["tag:db"], user: "bob"), false),
                              (AdminCreateAuthKeyRequest(tags: ["tag:db"], user: "alice"), true),
                              (AdminCreateAuthKeyRequest(tags: ["tag:web"]), true)] {
                let r = try await server.adminCall("POST", "/v1/authkeys", body: req)
                #expect((r.status == 201) == ok, "\(req.tags ?? []) \(req.user ?? "-"): \(r.status) \(r.text)")
            }
            let tagBad = try await server.adminCall("POST", "/v1/nodes/\(m.ids.db)/tags", body: AdminSetTagsRequest(tags: ["tag:nope"]))
            #expect(tagBad.status == 400 && tagBad.text.contains("tagOwners"), "\(tagBad.text)")
            // alice has a node and the policy names her; bob's node is removed, then he can go.
            let busy = try await server.adminCall("DELETE", "/v1/users/alice")
            #expect(busy.status == 400 && busy.text.contains("node"), "\(busy.text)")
            #expect(try await server.adminCall("DELETE", "/v1/nodes/\(m.ids.alice)").status == 200)
            let named = try await server.adminCall("DELETE", "/v1/users/alice")
            #expect(named.status == 400 && named.text.contains("policy names"), "\(named.text)")
            #expect(try await server.adminCall("DELETE", "/v1/nodes/\(m.ids.bob)").status == 200)
            // bob is in the policy's tests only by name... as a test source: still named.
            let bobNamed = try await server.adminCall("DELETE", "/v1/users/bob")
            #expect(bobNamed.status == 400, "\(bobNamed.text)")
        }
    }

    @Test func aPolicyFiltersPeersAndCarriesEachNodesRules() async throws {
        try await withServer("filter") { server in
            let m = try await Self.mesh(server)
            #expect(try await server.adminCall("GET", "/v1/policy").status == 404)
            #expect(try await server.adminCall("POST", "/v1/policy/test").status == 404)
            let check = try await server.adminCall("POST", "/v1/policy/check", body: AdminPolicyText(text: Self.policy))
            #expect(check.status == 200, "\(check.text)")
            #expect(try await server.adminCall("GET", "/v1/policy").status == 404, "check does not set")
            let set = try await Self.setPolicy(server, Self.policy)
            #expect(set.status == 200, "\(set.text)")
            let summary = try Self.decode(set, AdminPolicyCheck.self)
            #expect(summary.version == 1 && summary.changedNodes == 4 && summary.tests == 2 && summary.nodes == 4)

            let alice = try await m.alice.map(), bob = try await m.bob.map()
            let db = try await m.db.map(), web = try await m.web.map()
            #expect(alice.peers?.map(\.id) == [m.ids.db, m.ids.web])
            #expect(bob.peers?.map(\.id) == [m.ids.web])
            #expect(db.peers?.map(\.id) == [m.ids.alice])
            #expect(web.peers?.map(\.id) == [m.ids.alice, m.ids.bob])
            #expect(alice.packetFilter == PacketFilterMessage(enforced: true, rules: [], policyVersion: 1))
            let aliceSelf = try #require(alice.selfNode), dbSelf = try #require(db.selfNode)
            #expect(db.packetFilter == PacketFilterMessage(enforced: true, rules: [
                .init(sources: ["\(aliceSelf.ipv4)/32", "\(aliceSelf.ipv6)/128"], destinations: [dbSelf.ipv4, dbSelf.ipv6],
                      protocols: [1, 6, 17, 58], ports: [.init(first: 5432, last: 5432)]),
            ], policyVersion: 1))
            #expect(web.packetFilter?.rules.first?.ports == [.init(first: 80, last: 80), .init(first: 443, last: 443)])
            #expect(web.packetFilter?.rules.first?.sources.count == 4)
            let test = try Self.decode(try await server.adminCall("POST", "/v1/policy/test"), AdminPolicyTestResult.self)
            #expect(test.passed && test.tests == 2 && test.version == 1)
        }
    }

    /// What does not parse, names what does not exist, or fails its own tests is refused with
    /// line:column and the running policy stays (and no node hears of it).
    @Test func aRefusedPolicyLeavesTheRunningOneInForce() async throws {
        try await withServer("refuse") { server in
            let m = try await Self.mesh(server)
            #expect(try await Self.setPolicy(server, Self.policy).status == 200)
            let before = try await m.bob.map()
            let contradicting = Self.policy.replacingOccurrences(of: #""deny": ["tag:db:5432"]"#, with: #""accept": ["tag:db:5432"]"#)
                .replacingOccurrences(of: #"{"src": "bob", "accept": ["tag:web:80"], "#, with: #"{"src": "bob", "#)
            let cases: [(String, String)] = [
                ("{\n  \"acls\": [,\n}", ""),
                (Self.policy.replacingOccurrences(of: "tag:db:5432\"]},", with: "tag:nope:5432\"]},"), "unknown tag"),
                (Self.policy.replacingOccurrences(of: "[\"alice\"]},", with: "[\"carol\"]},"), "unknown user"),
                (contradicting, "fails"),
            ]
            for (text, reason) in cases {
                for path in ["/v1/policy/check", "/v1/policy"] {
                    let r = try await server.adminCall(path == "/v1/policy" ? "PUT" : "POST", path, body: AdminPolicyText(text: text))
                    let body = try? Self.decode(r, ErrorBody.self)
                    #expect(r.status == 400, "\(path): \(r.text)")
                    #expect(body?.error.range(of: #"^\d+:\d+: "#, options: .regularExpression) != nil, "\(r.text)")
                    #expect(reason.isEmpty || body?.error.contains(reason) == true, "\(reason): \(r.text)")
                }
            }
            let running = try Self.decode(try await server.adminCall("GET", "/v1/policy"), AdminPolicy.self)
            #expect(running.version == 1 && running.text == Self.policy)
            let history = try Self.decode(try await server.adminCall("GET", "/v1/policy/history"), [AdminPolicyVersion].self)
            #expect(history.map(\.version) == [1] && history.first?.running == true)
            let after = try await m.bob.map(since: before.version, wait: false)
            #expect(after.kind == .keepAlive, "\(after)")
        }
    }

    /// A policy that compiles past what a node accepts (PacketFilterMessage.maxRules) is refused
    /// at `set` and `check`, not left for the node to refuse in its log.
    @Test func aPolicyPastTheNodesBoundsIsRefusedAtTheCoordinator() async throws {
        try await withServer("bounds") { server in
            let m = try await Self.mesh(server)
            let acls = (1...(PacketFilterMessage.maxRules + 1)).map {
                "{\"action\": \"accept\", \"src\": [\"alice\"], \"dst\": [\"tag:db:\($0)\"], \"proto\": \"tcp\"}"
            }
            let text = "{\"tagOwners\": {\"tag:db\": []}, \"acls\": [\(acls.joined(separator: ",\n"))]}"
            for path in ["/v1/policy/check", "/v1/policy"] {
                let r = try await server.adminCall(path == "/v1/policy" ? "PUT" : "POST", path, body: AdminPolicyText(text: text))
                #expect(r.status == 400 && r.text.contains("more than a node accepts: for db"), "\(path): \(r.text.prefix(300))")
            }
            #expect(try await m.db.map().packetFilter == nil)
        }
    }

    /// A tag change reaches the waiting polls of exactly the nodes whose view changed, as a
    /// delta: peers added or removed, the filter only where it changed.
    @Test func aTagChangeIsADeltaToTheNodesItAffects() async throws {
        try await withServer("tagdelta") { server in
            let m = try await Self.mesh(server)
            #expect(try await Self.setPolicy(server, Self.policy).status == 200)
            let bobFull = try await m.bob.map(), dbFull = try await m.db.map(), aliceFull = try await m.alice.map()
            let hub = server.coordinator.hub
            let waiting = hub.waitingCount
            async let bobDelta = m.bob.map(since: bobFull.version)
            async let dbDelta = m.db.map(since: dbFull.version)
            #expect(await eventually { hub.waitingCount >= waiting + 2 })
            let start = ContinuousClock.now
            // db becomes a web server too: bob may now reach it, and it gets the web rule.
            let tagged = try await server.adminCall("POST", "/v1/nodes/\(m.ids.db)/tags", body: AdminSetTagsRequest(tags: ["tag:web", "tag:db"]))
            #expect(tagged.status == 200, "\(tagged.text)")
            let (b, d) = try await (bobDelta, dbDelta)
            let elapsed = ContinuousClock.now - start
            print("tag change to two waiting polls: \(elapsed)")
            #expect(elapsed < .seconds(1))
            #expect(b.kind == .delta && b.peersChanged?.map(\.id) == [m.ids.db] && b.packetFilter == nil, "\(b)")
            #expect(b.peersChanged?.first?.tags == ["tag:db", "tag:web"])
            #expect(d.kind == .delta && d.peersChanged?.map(\.id) == [m.ids.bob], "\(d)")
            #expect(d.packetFilter?.rules.count == 2 && d.packetFilter?.policyVersion == 1, "\(String(describing: d.packetFilter))")
            // alice's view is unchanged (db was already visible): only db's own entry moved.
            let a = try await m.alice.map(since: aliceFull.version, wait: false)
            #expect(a.peersChanged?.map(\.id) == [m.ids.db] && a.packetFilter == nil && a.peersRemoved == nil)
            // Clearing the tags: db is nobody's now (no user, no tag) and leaves bob's map.
            #expect(try await server.adminCall("POST", "/v1/nodes/\(m.ids.db)/tags", body: AdminSetTagsRequest(tags: [])).status == 200)
            let b2 = try await m.bob.map(since: b.version, wait: false)
            #expect(b2.peersRemoved == [m.ids.db] && b2.peersChanged == nil, "\(b2)")
            let d2 = try await m.db.map(since: d.version, wait: false)
            #expect(d2.packetFilter == PacketFilterMessage(enforced: true, rules: [], policyVersion: 1), "\(d2)")
            #expect(Set(d2.peersRemoved ?? []) == [m.ids.alice, m.ids.bob], "\(d2)")
        }
    }

    @Test func thePolicySurvivesARestartAndAJoiningNodeIsFiltered() async throws {
        let dir = tempStateDir("policyrestart")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try await TestCoordinator.start("policyrestart", dir: dir)
        let m: Mesh
        do {
            m = try await Self.mesh(first)
            #expect(try await Self.setPolicy(first, Self.policy).status == 200)
            try await first.stop()
        } catch {
            try? await first.stop()
            throw error
        }
        try await withServerAt(dir) { server in
            var alice = m.alice, bob = m.bob
            alice.target = server.target
            bob.target = server.target
            let before = try await alice.map()
            #expect(before.peers?.map(\.id) == [m.ids.db, m.ids.web] && before.packetFilter?.policyVersion == 1)
            // A second web server joins: alice and bob see it in a delta, db does not.
            let web2 = TestNode(target: server.target, coordinatorKeyBytes: server.coordinator.publicKey.rawBytes)
            let id = try await web2.register(try await Self.token(server, .init(tags: ["tag:web"])), hostname: "web2").nodeID
            let a = try await alice.map(since: before.version, wait: false)
            #expect(a.peersChanged?.map(\.id) == [id], "\(a)")
            var db = m.db
            db.target = server.target
            let dbMap = try await db.map()
            #expect(dbMap.peers?.map(\.id) == [m.ids.alice])
            let w2 = try await web2.map()
            #expect(w2.peers?.map(\.id) == [m.ids.alice, m.ids.bob] && w2.packetFilter?.rules.count == 1)
            _ = try await bob.map()
        }
    }

    func withServerAt(_ dir: String, _ body: (TestCoordinator) async throws -> Void) async throws {
        let server = try await TestCoordinator.start("policyrestart", dir: dir)
        do {
            try await body(server)
            try await server.stop()
        } catch {
            try? await server.stop()
            throw error
        }
    }
}
