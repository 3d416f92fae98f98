import CoordinatorServer
import CoordinatorStore
import MeshPolicy
import MeshWire
import Testing

/// Peers the policy hides from a node that saw them (`MapResponse.peersHidden`): the hub says
/// which removals are hidings, keeps saying so in full maps, tells when a hidden peer is gone
/// for good, says nothing of a hidden peer's own changes, and bounds the list.
@Suite struct NetworkHubHiddenPeersTests {
    static func node(_ id: Int64, user: String? = nil, tags: [String] = [], version: UInt64) -> NodeRecord {
        NetworkHubPolicyTests.node(id, user: user, tags: tags, version: version)
    }

    /// Members may reach the web servers; node 1 and 2 are members, 3 a web server.
    static let members = NetworkHubPolicyTests.webPolicy
    /// Only user "a" may reach the web servers: b (node 2) sees nobody, and nobody sees b.
    static let onlyA = """
        {"tagOwners": {"tag:web": []},
         "acls": [{"action": "accept", "src": ["a"], "dst": ["tag:web:443"]}]}
        """

    func hub() throws -> (NetworkHub, [NodeRecord]) {
        let nodes = [Self.node(1, user: "a", version: 1), Self.node(2, user: "b", version: 2),
                     Self.node(3, tags: ["tag:web"], version: 3)]
        let hub = NetworkHub(nodes: nodes, version: 3)
        hub.setPolicy(try PolicyDocument.parse(Self.members), policyVersion: 1, users: ["a", "b"], version: 4)
        return (hub, nodes)
    }

    @Test func theFirstPolicyHidesWhatEveryNodeSawBefore() throws {
        let (hub, _) = try hub()
        // Before the policy every node saw every other; members do not see each other now.
        let one = hub.fullMap(for: 1)
        #expect(one.peers.map(\.id) == [3] && one.hidden == [2])
        #expect(hub.fullMap(for: 2).hidden == [1])
        #expect(hub.fullMap(for: 3).peers.map(\.id) == [1, 2] && hub.fullMap(for: 3).hidden.isEmpty)
        // From "no policy" to a policy a poll gets a full map, which carries the list.
        let first = hub.delta(for: 1, since: 3, selfSince: 3)
        #expect(first.full && first.hidden == [2])
    }

    @Test func aPolicyChangeThatHidesAPeerSaysSoInTheDelta() throws {
        let (hub, _) = try hub()
        hub.setPolicy(try PolicyDocument.parse(Self.onlyA), policyVersion: 2, users: ["a", "b"], version: 5)
        // The web server no longer sees b: removed, because hidden.
        let web = hub.delta(for: 3, since: 4, selfSince: 4)
        #expect(!web.full && web.removed == [2] && web.hidden == [2] && web.peers.isEmpty)
        // b loses the web server; a, which b already counted as hidden, is no news.
        let b = hub.delta(for: 2, since: 4, selfSince: 4)
        #expect(b.removed == [3] && b.hidden == [3])
        #expect(hub.fullMap(for: 2).hidden == [1, 3] && hub.fullMap(for: 2).peers.isEmpty)
        // a's view did not change.
        #expect(hub.delta(for: 1, since: 4, selfSince: 4).isEmpty)
    }

    @Test func aHiddenPeerShownAgainComesBackAsAPeer() throws {
        let (hub, _) = try hub()
        hub.setPolicy(try PolicyDocument.parse(Self.onlyA), policyVersion: 2, users: ["a", "b"], version: 5)
        hub.setPolicy(try PolicyDocument.parse(Self.members), policyVersion: 3, users: ["a", "b"], version: 6)
        let web = hub.delta(for: 3, since: 5, selfSince: 5)
        #expect(web.peers.map(\.id) == [2] && web.removed.isEmpty && web.hidden.isEmpty)
        #expect(hub.fullMap(for: 3).hidden.isEmpty)
        // b sees the web server again; a stays hidden from it.
        let b = hub.delta(for: 2, since: 5, selfSince: 5)
        #expect(b.peers.map(\.id) == [3] && b.removed.isEmpty)
        #expect(hub.fullMap(for: 2).hidden == [1])
    }

    @Test func aHiddenPeerThatLeavesIsRemovedForGood() throws {
        let (hub, nodes) = try hub()
        var gone = nodes[1]
        gone.expiredAt = 10
        gone.version = 5
        hub.apply(gone)
        // Node 1 counted 2 as hidden: now a plain removal, and no longer hidden.
        let one = hub.delta(for: 1, since: 4, selfSince: 4)
        #expect(one.removed == [2] && one.hidden.isEmpty)
        #expect(hub.fullMap(for: 1).hidden.isEmpty)
        // The web server saw 2 as a peer: a plain removal too.
        let web = hub.delta(for: 3, since: 4, selfSince: 4)
        #expect(web.removed == [2] && web.hidden.isEmpty)
    }

    /// Even when the running policy no longer binds (it names a user that is gone, so the old
    /// compilation stays), a hidden peer that leaves is no longer counted as hidden.
    @Test func aHiddenPeerThatLeavesWhileThePolicyDoesNotBindIsRemovedToo() throws {
        let (hub, nodes) = try hub()
        hub.setPolicy(try PolicyDocument.parse(Self.onlyA), policyVersion: 2, users: ["a", "b"], version: 5)
        #expect(hub.fullMap(for: 2).hidden == [1, 3])
        hub.setUsers([])
        var gone = nodes[0]
        gone.expiredAt = 10
        gone.version = 6
        hub.apply(gone)
        #expect(hub.compiledFilter(for: 1) != nil)
        let b = hub.delta(for: 2, since: 5, selfSince: 5)
        #expect(b.removed == [1] && b.hidden.isEmpty)
        #expect(hub.fullMap(for: 2).hidden == [3])
    }

    /// Nothing of a hidden peer is told: its new endpoints or presence are no news.
    @Test func aHiddenPeersOwnChangesAreNotSent() throws {
        let (hub, nodes) = try hub()
        var moved = nodes[1]
        moved.endpoints = ["198.51.100.9:41641"]
        moved.online = false
        moved.version = 5
        hub.apply(moved)
        #expect(hub.delta(for: 1, since: 4, selfSince: 4).isEmpty)
        #expect(hub.delta(for: 3, since: 4, selfSince: 4).peers.map(\.id) == [2])
    }

    /// A node that joins under the policy never saw anyone: nothing is hidden from it.
    @Test func aNodeThatJoinsLaterHasNothingHidden() throws {
        let (hub, _) = try hub()
        hub.apply(Self.node(4, user: "a", version: 5))
        #expect(hub.fullMap(for: 4).peers.map(\.id) == [3] && hub.fullMap(for: 4).hidden.isEmpty)
        // The other members did not see it either.
        #expect(hub.fullMap(for: 1).hidden == [2])
    }

    @Test func theListIsBounded() throws {
        let count: Int64 = 300
        let nodes = (1...count).map { Self.node($0, user: "u", version: UInt64($0)) }
        let hub = NetworkHub(nodes: nodes + [Self.node(count + 1, tags: ["tag:web"], version: UInt64(count + 1))],
                             version: UInt64(count + 1))
        hub.setPolicy(try PolicyDocument.parse(Self.members), policyVersion: 1, users: ["u"], version: UInt64(count + 2))
        let one = hub.fullMap(for: 1)
        #expect(one.peers.map(\.id) == [count + 1])
        #expect(one.hidden == Array(2...Int64(MapResponse.maxHiddenPeers + 1)))
    }
}
