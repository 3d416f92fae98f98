import CoordinatorServer
import CoordinatorStore
import Foundation
import MeshPolicy
import MeshWire
import Testing

/// The hub's policy fan-out without HTTP: per-node views, deltas after a policy change, and
/// how long a policy change takes to reach 10,000 waiting polls.
@Suite struct NetworkHubPolicyTests {
    static func node(_ id: Int64, user: String? = nil, tags: [String] = [], version: UInt64) -> NodeRecord {
        NodeRecord(id: id, nodeKey: "key\(id)", discoKey: "disco\(id)", name: "n\(id)", hostname: "n\(id)", os: "linux",
                   ipv4: "100.64.\(id / 250).\(id % 250 + 1)", ipv6: "fd00::\(String(id, radix: 16))", endpoints: [],
                   homeRelay: nil, tags: tags, authKeyID: nil, createdAt: 0, lastSeen: nil, online: true,
                   expiredAt: nil, removedAt: nil, version: version, user: user)
    }

    static let webPolicy = """
        {"tagOwners": {"tag:web": []},
         "acls": [{"action": "accept", "src": ["autogroup:member"], "dst": ["tag:web:443"]}]}
        """
    /// The same, and the web servers may reach every member's port 22: every node's filter changes.
    static let webAndBackPolicy = """
        {"tagOwners": {"tag:web": []},
         "acls": [{"action": "accept", "src": ["autogroup:member"], "dst": ["tag:web:443"]},
                  {"action": "accept", "src": ["tag:web"], "dst": ["autogroup:member:22"]}]}
        """

    /// Every node's filter changes from `webPolicy`: members gain port 22, web servers 8080.
    static let everyoneChangesPolicy = """
        {"tagOwners": {"tag:web": []},
         "acls": [{"action": "accept", "src": ["autogroup:member"], "dst": ["tag:web:443"]},
                  {"action": "accept", "src": ["tag:web"], "dst": ["autogroup:member:22", "tag:web:8080"]}]}
        """

    @Test func withoutAPolicyEveryPeerIsVisibleAndNoFilterIsSent() {
        let hub = NetworkHub(nodes: (1...3).map { Self.node($0, user: "u", version: UInt64($0)) }, version: 3)
        let full = hub.fullMap(for: 1)
        #expect(full.peers.map(\.id) == [2, 3] && full.packetFilter == nil)
        #expect(hub.policyVersion == nil)
    }

    @Test func aPolicyChangeIsAFullMapThenDeltasWithTheFilterOnlyWhereItChanged() throws {
        let nodes = [Self.node(1, user: "a", version: 1), Self.node(2, user: "b", version: 2),
                     Self.node(3, tags: ["tag:web"], version: 3), Self.node(4, tags: ["tag:other"], version: 4)]
        let hub = NetworkHub(nodes: nodes, version: 4)
        let changed = hub.setPolicy(try PolicyDocument.parse(Self.webPolicy), policyVersion: 1, users: ["a", "b"], version: 5)
        #expect(changed == [1, 2, 3, 4])
        // From "no policy" to a policy: a full map (the peer list shrinks).
        let first = hub.delta(for: 1, since: 4, selfSince: 4)
        #expect(first.full && first.peers.map(\.id) == [3] && first.packetFilter?.enforced == true)
        let web = hub.fullMap(for: 3)
        #expect(web.peers.map(\.id) == [1, 2])
        #expect(web.packetFilter?.rules == [PacketFilterMessage.Rule(
            sources: ["100.64.0.2/31", "fd00::1/128", "fd00::2/128"], destinations: ["100.64.0.4", "fd00::3"],
            protocols: [1, 6, 17, 58], ports: [.init(first: 443, last: 443)])])
        #expect(hub.fullMap(for: 4).peers.isEmpty)
        // A second policy: members get a rule (filter in the delta), visibility stays.
        let again = hub.setPolicy(try PolicyDocument.parse(Self.webAndBackPolicy), policyVersion: 2, users: ["a", "b"], version: 6)
        #expect(again == [1, 2])
        let d1 = hub.delta(for: 1, since: 5, selfSince: 5)
        #expect(!d1.full && d1.peers.isEmpty && d1.removed.isEmpty)
        #expect(d1.packetFilter?.rules.first?.ports == [.init(first: 22, last: 22)] && d1.packetFilter?.policyVersion == 2)
        // The web server's filter did not change: nothing for it, and its filter keeps version 1.
        #expect(hub.delta(for: 3, since: 5, selfSince: 5).isEmpty)
        #expect(hub.fullMap(for: 3).packetFilter?.policyVersion == 1)
        // A tag change (through the store's observer path): node 4 becomes a web server.
        var retagged = nodes[3]
        retagged.tags = ["tag:web"]
        retagged.version = 7
        hub.apply(retagged)
        let d2 = hub.delta(for: 1, since: 6, selfSince: 6)
        #expect(d2.peers.map(\.id) == [4] && d2.removed.isEmpty)
        let d4 = hub.delta(for: 4, since: 6, selfSince: 6)
        #expect(d4.peers.map(\.id) == [1, 2] && d4.packetFilter?.rules.count == 1)
        // Node 2 leaves: gone from the web servers' maps, and their filters shrink.
        var gone = nodes[1]
        gone.expiredAt = 10
        gone.version = 8
        hub.apply(gone)
        let d3 = hub.delta(for: 3, since: 7, selfSince: 7)
        #expect(d3.removed == [2] && d3.packetFilter?.rules.first?.sources == ["100.64.0.2/32", "fd00::1/128"])
    }

    /// Measures the time from a policy change to every one of 10,000 waiting polls holding its
    /// delta (in process: the hub's fan-out and each poll's delta, not HTTP). Every node's
    /// filter changes, so every poll has news.
    @Test func aPolicyChangeReachesTenThousandWaitingPolls() async throws {
        let count = 10_000
        var nodes: [NodeRecord] = []
        for i in 1...count {
            nodes.append(i <= 20 ? Self.node(Int64(i), tags: ["tag:web"], version: UInt64(i))
                                 : Self.node(Int64(i), user: "u\(i % 50)", version: UInt64(i)))
        }
        let users = Set((0..<50).map { "u\($0)" })
        let hub = NetworkHub(nodes: nodes, version: UInt64(count))
        hub.setPolicy(try PolicyDocument.parse(Self.webPolicy), policyVersion: 1, users: users, version: UInt64(count) + 1)
        let since = hub.version
        let answered = try await withThrowingTaskGroup(of: (Int64, ContinuousClock.Instant, Bool).self) { group in
            for id in 1...Int64(count) {
                group.addTask {
                    var version = since
                    while true {
                        guard await hub.waitForChange(after: version, timeout: .seconds(10)) else { return (id, .now, false) }
                        let d = hub.delta(for: id, since: version, selfSince: version)
                        if !d.isEmpty { return (id, .now, d.packetFilter != nil || d.full) }
                        version = d.version
                    }
                }
            }
            let waitStart = ContinuousClock.now
            while hub.waitingCount < count {
                try await Task.sleep(for: .milliseconds(5))
                if ContinuousClock.now - waitStart > .seconds(60) { break }
            }
            #expect(hub.waitingCount == count)
            let start = ContinuousClock.now
            let changed = hub.setPolicy(try PolicyDocument.parse(Self.everyoneChangesPolicy), policyVersion: 2, users: users,
                                        version: since + 1)
            let compiled = ContinuousClock.now - start
            var last = start, ok = 0
            for try await (_, at, withFilter) in group {
                last = max(last, at)
                if withFilter { ok += 1 }
            }
            print("policy change to \(count) waiting polls: compile+wake \(compiled), all deltas \(last - start) (changed nodes \(changed?.count ?? -1))")
            return ok
        }
        #expect(answered == count)
    }
}
