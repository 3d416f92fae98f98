import CoordinatorStore
import Foundation
import MeshWire
import Testing

@Suite struct UsersAndPolicyTests {
    let now: Int64 = 1_700_000_000

    /// Users and policies are a migration of their own: a database from before them is
    /// migrated in place at open, and its nodes keep working without a user.
    @Test func migrationKeepsOldNodesAndAddsUsers() async throws {
        let dir = storeTempDir("migrate")
        do {
            let store = try CoordinatorStore(directory: dir, randomBytes: storeRandom)
            _ = try await store.createAuthKey(secret: "s", reusable: true, expiresAt: nil, tags: [], description: nil, now: now)
            _ = try await store.register(nodeKey: storeKey(1), request: storeRequest("s"), now: now)
        }
        let store = try CoordinatorStore(directory: dir, randomBytes: storeRandom)
        let nodes = try store.allNodes()
        #expect(nodes.count == 1 && nodes[0].user == nil && nodes[0].nodeInfo.user == nil)
        #expect(try store.appliedMigrations() == ["v1", "v2-disco-key-index", "v3-users-policy"])
        #expect(try store.users().isEmpty && store.currentPolicy() == nil)
    }

    @Test func nodesInheritTheirKeysUserAndTags() async throws {
        let store = try CoordinatorStore(directory: storeTempDir("users"), randomBytes: storeRandom)
        _ = try await store.createUser(name: "alice", now: now)
        await #expect(throws: CoordinatorError.self) { _ = try await store.createUser(name: "alice", now: now) }
        await #expect(throws: CoordinatorError.self) {
            _ = try await store.createAuthKey(secret: "x", reusable: true, expiresAt: nil, tags: [], description: nil, now: now, user: "bob")
        }
        let key = try await store.createAuthKey(secret: "a", reusable: true, expiresAt: nil, tags: [], description: nil, now: now, user: "alice")
        #expect(key.user == "alice")
        _ = try await store.createAuthKey(secret: "t", reusable: true, expiresAt: nil, tags: ["tag:db"], description: nil, now: now)
        let laptop = try await store.register(nodeKey: storeKey(1), request: storeRequest("a"), now: now)
        let db = try await store.register(nodeKey: storeKey(2), request: storeRequest("t", host: "db"), now: now)
        #expect(laptop.user == "alice" && laptop.tags.isEmpty && laptop.nodeInfo.user == "alice")
        #expect(db.user == nil && db.tags == ["tag:db"] && db.nodeInfo.user == nil)
        // A user with nodes cannot be removed; tags change with a version bump.
        await #expect(throws: CoordinatorError.self) { _ = try await store.removeUser(name: "alice") }
        let before = try store.currentVersion()
        let tagged = try await store.setTags(nodeID: db.id, tags: ["tag:db", "tag:web"], now: now)
        #expect(tagged.tags == ["tag:db", "tag:web"] && tagged.version == before + 1)
        let same = try await store.setTags(nodeID: db.id, tags: ["tag:db", "tag:web"], now: now)
        #expect(same.version == tagged.version)
        _ = try await store.remove(nodeID: laptop.id, now: now)
        _ = try await store.removeUser(name: "alice")
        #expect(try store.users().isEmpty)
        // Its keys no longer admit anyone.
        await #expect(throws: CoordinatorError.self) {
            _ = try await store.register(nodeKey: storeKey(3), request: storeRequest("a"), now: now)
        }
    }

    @Test func everyAcceptedPolicyIsKeptWithItsTime() async throws {
        let store = try CoordinatorStore(directory: storeTempDir("policy"), randomBytes: storeRandom)
        #expect(try store.currentPolicy() == nil)
        let v0 = try store.currentVersion()
        let (first, seen) = try await store.savePolicy(text: "{}", now: now) { policyVersion, netmapVersion in (policyVersion, netmapVersion) }
        #expect(first.version == 1 && seen.0 == 1 && seen.1 == v0 + 1)
        let (second, _) = try await store.savePolicy(text: "{\"acls\": []}", now: now + 5) { _, _ in () }
        #expect(try store.currentPolicy() == second)
        #expect(try store.policyHistory().map(\.version) == [1, 2])
        #expect(try store.policyHistory().map(\.createdAt) == [now, now + 5])
        #expect(try store.policy(version: 1)?.text == "{}")
        #expect(try store.currentVersion() == v0 + 2)
    }
}
