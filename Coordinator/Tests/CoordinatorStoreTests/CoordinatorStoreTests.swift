import CoordinatorStore
import Foundation
import MeshCrypto
import MeshWire
import Testing

func storeTempDir(_ name: String) -> String {
    let dir = NSTemporaryDirectory() + "meshcoord-store-\(name)-\(UUID().uuidString.prefix(8))"
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

func storeRandom(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255) } }

func storeKey(_ i: Int) -> String {
    var r = SeededEntropy(seed: UInt64(i) &+ 1000)
    return PrivateKey.generate(using: &r).publicKey.base64
}

/// Each call gets its own disco key: the store refuses a disco key another node holds.
func storeRequest(_ secret: String?, host: String = "laptop", discoKey: String? = nil) -> RegisterRequest {
    RegisterRequest(authKey: secret, hostname: host, os: "linux", discoKey: discoKey ?? storeKey(Int.random(in: 1_000_000...(1 << 40))))
}

@Suite struct CoordinatorStoreTests {
    let now: Int64 = 1_700_000_000

    @Test func addressesAreNeverReusedAndSurviveReopen() async throws {
        let dir = storeTempDir("alloc")
        var seen: [String: String] = [:]  // node key → ipv4
        do {
            let store = try CoordinatorStore(directory: dir, randomBytes: storeRandom)
            #expect(store.ipv4Prefix.description == "100.64.0.0/10")
            #expect(store.ipv6Prefix.length == 48 && store.ipv6Prefix.network[0] == 0xFD)
            _ = try await store.createAuthKey(secret: "s", reusable: true, expiresAt: nil, tags: ["tag:a"], description: nil, now: now)
            var ids: [Int64] = []
            for i in 0..<5 {
                let n = try await store.register(nodeKey: storeKey(i), request: storeRequest("s"), now: now)
                seen[n.nodeKey] = n.ipv4
                ids.append(n.id)
                #expect(n.tags == ["tag:a"])
            }
            #expect(Set(seen.values).count == 5)
            // Remove two nodes; new nodes never get their addresses.
            let removed = try await store.remove(nodeID: ids[1], now: now)
            _ = try await store.remove(nodeID: ids[4], now: now)
            let fresh = try await store.register(nodeKey: storeKey(10), request: storeRequest("s"), now: now)
            #expect(!seen.values.contains(fresh.ipv4))
            #expect(fresh.ipv6 != removed.ipv6)
            seen[fresh.nodeKey] = fresh.ipv4
        }
        // Reopen: same prefixes, same addresses, and the counters continue.
        let store = try CoordinatorStore(directory: dir, randomBytes: { _ in [1, 2, 3, 4, 5] })
        let nodes = try store.allNodes()
        #expect(nodes.count == 6)
        for n in nodes { #expect(seen[n.nodeKey] == n.ipv4) }
        let again = try await store.register(nodeKey: storeKey(11), request: storeRequest("s"), now: now)
        #expect(!seen.values.contains(again.ipv4))
        #expect(store.ipv6Prefix.contains(again.ipv6))
        // Idempotent re-registration: same node, no secret needed.
        let re = try await store.register(nodeKey: storeKey(0), request: storeRequest(nil), now: now)
        #expect(re.ipv4 == seen[storeKey(0)])
    }

    @Test func uniqueNames() async throws {
        let store = try CoordinatorStore(directory: storeTempDir("names"), randomBytes: storeRandom)
        _ = try await store.createAuthKey(secret: "s", reusable: true, expiresAt: nil, tags: [], description: nil, now: now)
        var names: [String] = []
        for i in 0..<4 { names.append(try await store.register(nodeKey: storeKey(i), request: storeRequest("s", host: "Laptop.example.com"), now: now).name) }
        #expect(names == ["laptop", "laptop-2", "laptop-3", "laptop-4"])
        let odd = try await store.register(nodeKey: storeKey(9), request: storeRequest("s", host: "  My Box_1 "), now: now)
        #expect(odd.name == "my-box-1")
        let empty = try await store.register(nodeKey: storeKey(8), request: storeRequest("s", host: "!!!"), now: now)
        #expect(empty.name == "node")
        // Rename rules.
        await #expect(throws: CoordinatorError.self) { try await store.rename(nodeID: 2, to: "laptop", now: now) }
        await #expect(throws: CoordinatorError.self) { try await store.rename(nodeID: 2, to: "Bad Name", now: now) }
        let renamed = try await store.rename(nodeID: 2, to: "desk", now: now)
        #expect(renamed.name == "desk")
        // The freed name is handed out again.
        let n = try await store.register(nodeKey: storeKey(20), request: storeRequest("s"), now: now)
        #expect(n.name == "laptop-2")
    }

    @Test func authKeyChecks() async throws {
        let store = try CoordinatorStore(directory: storeTempDir("auth"), randomBytes: storeRandom)
        _ = try await store.createAuthKey(secret: "once", reusable: false, expiresAt: nil, tags: [], description: nil, now: now)
        _ = try await store.createAuthKey(secret: "old", reusable: true, expiresAt: now - 1, tags: [], description: nil, now: now - 100)
        let revoked = try await store.createAuthKey(secret: "gone", reusable: true, expiresAt: nil, tags: [], description: nil, now: now)
        _ = try await store.revokeAuthKey(id: revoked.id, now: now)

        func code(_ secret: String?, _ i: Int) async -> ErrorCode? {
            do { _ = try await store.register(nodeKey: storeKey(i), request: storeRequest(secret), now: now); return nil } catch let e as CoordinatorError {
                return e.code
            } catch { return .internal }
        }
        #expect(await code(nil, 1) == .authKeyMissing)
        #expect(await code("nope", 1) == .authKeyUnknown)
        #expect(await code("old", 1) == .authKeyExpired)
        #expect(await code("gone", 1) == .authKeyRevoked)
        #expect(await code("once", 1) == nil)
        #expect(await code("once", 2) == .authKeyUsed)
        let keys = try store.authKeys()
        #expect(keys.map { $0.state(now: now) } == ["used", "expired", "revoked"])
        #expect(try store.allNodes().count == 1)
    }

    @Test func versionsAndObserver() async throws {
        let store = try CoordinatorStore(directory: storeTempDir("ver"), randomBytes: storeRandom)
        let seen = ObservedVersions()
        store.setChangeObserver { seen.add($0.version) }
        _ = try await store.createAuthKey(secret: "s", reusable: true, expiresAt: nil, tags: [], description: nil, now: now)
        let a = try await store.register(nodeKey: storeKey(1), request: storeRequest("s"), now: now)
        let u = try await store.update(nodeID: a.id, .init(endpoints: ["192.0.2.1:5"]), now: now)
        #expect(u?.version == a.version + 1)
        // No change, no version.
        #expect(try await store.update(nodeID: a.id, .init(endpoints: ["192.0.2.1:5"], lastSeen: now + 5), now: now) == nil)
        let e = try await store.expire(nodeID: a.id, now: now)
        #expect(e.expiredAt == now && !e.isActive)
        await #expect(throws: CoordinatorError.self) { try await store.update(nodeID: a.id, .init(endpoints: []), now: now) }
        // Expired node comes back with an auth key, same addresses.
        await #expect(throws: CoordinatorError.self) { try await store.register(nodeKey: storeKey(1), request: storeRequest(nil), now: now) }
        let back = try await store.register(nodeKey: storeKey(1), request: storeRequest("s"), now: now)
        #expect(back.id == a.id && back.ipv4 == a.ipv4 && back.isActive)
        #expect(seen.all == Array(1...4).map(UInt64.init))
        #expect(try store.currentVersion() == 4)
    }

    @Test func configuredPrefixes() async throws {
        let v4 = try OverlayPrefix(parsing: "10.99.0.0/24")
        let v6 = try OverlayPrefix(parsing: "fd00:aa:bb::/48")
        let store = try CoordinatorStore(directory: storeTempDir("pfx"), options: .init(ipv4Prefix: v4, ipv6Prefix: v6), randomBytes: storeRandom)
        _ = try await store.createAuthKey(secret: "s", reusable: true, expiresAt: nil, tags: [], description: nil, now: now)
        var addrs: [String] = []
        for i in 0..<3 { addrs.append(try await store.register(nodeKey: storeKey(i), request: storeRequest("s"), now: now).ipv4) }
        #expect(addrs == ["10.99.0.1", "10.99.0.2", "10.99.0.3"])
        #expect(try store.allNodes().first?.ipv6 == "fd00:aa:bb::1")
    }

    @Test func smallPoolExhaustsCleanly() async throws {
        let store = try CoordinatorStore(directory: storeTempDir("tiny"),
                                         options: .init(ipv4Prefix: try OverlayPrefix(parsing: "10.1.1.0/30")), randomBytes: storeRandom)
        _ = try await store.createAuthKey(secret: "s", reusable: true, expiresAt: nil, tags: [], description: nil, now: now)
        _ = try await store.register(nodeKey: storeKey(1), request: storeRequest("s"), now: now)
        _ = try await store.register(nodeKey: storeKey(2), request: storeRequest("s"), now: now)
        do {
            _ = try await store.register(nodeKey: storeKey(3), request: storeRequest("s"), now: now)
            Issue.record("a /30 holds two hosts")
        } catch let e as CoordinatorError {
            #expect(e.code == .addressPoolExhausted)
        }
    }

    @Test func corruptedDatabaseIsAClearError() throws {
        let dir = storeTempDir("corrupt")
        let path = dir + "/" + CoordinatorStore.databaseFileName
        _ = FileManager.default.createFile(atPath: path, contents: Data(repeating: 0x5A, count: 8192))
        do {
            _ = try CoordinatorStore(directory: dir, randomBytes: storeRandom)
            Issue.record("opened garbage")
        } catch let e as StoreError {
            #expect(e.description.contains(path))
            #expect(e.description.contains("not an SQLite database") || e.description.contains("corrupted"))
        }
        // A database file that is a directory cannot be opened.
        let dir2 = storeTempDir("dirdb")
        try FileManager.default.createDirectory(atPath: dir2 + "/" + CoordinatorStore.databaseFileName, withIntermediateDirectories: true)
        #expect(throws: StoreError.self) { try CoordinatorStore(directory: dir2, randomBytes: storeRandom) }
    }

    @Test func prefixParsing() throws {
        #expect(throws: OverlayPrefix.ParseError.self) { try OverlayPrefix(parsing: "100.64.0.1/10") }
        #expect(throws: OverlayPrefix.ParseError.self) { try OverlayPrefix(parsing: "100.64.0.0") }
        #expect(throws: OverlayPrefix.ParseError.self) { try OverlayPrefix(parsing: "banana/8") }
        let p = try OverlayPrefix(parsing: "100.64.0.0/10")
        #expect(p.address(atOffset: 256) == "100.64.1.0")
        #expect(p.address(atOffset: (1 << 22) - 1) == "100.127.255.255")
        #expect(p.address(atOffset: 1 << 22) == nil)
        #expect(p.contains("100.100.1.1") && !p.contains("100.128.0.1"))
        let q = try OverlayPrefix(parsing: "fd7a:115c:a1e0::/48")
        #expect(q.address(atOffset: 0x1_0001) == "fd7a:115c:a1e0::1:1")
        #expect(NodeName.sanitize(String(repeating: "a", count: 80)).count == 63)
        #expect(NodeName.unique(String(repeating: "a", count: 63), taken: [String(repeating: "a", count: 63)]).count == 63)
    }
}

/// Versions seen by concurrent observers. Sendable by hand: `v` is guarded by `lock`.
final class ObservedVersions: @unchecked Sendable {
    private let lock = NSLock()
    private var v: [UInt64] = []
    func add(_ x: UInt64) { lock.lock(); v.append(x); lock.unlock() }
    var all: [UInt64] { lock.lock(); defer { lock.unlock() }; return v }
}
