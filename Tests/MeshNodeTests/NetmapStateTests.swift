import Foundation
import MeshCrypto
import MeshNode
import MeshWire
import Testing

func node(_ id: Int64, _ name: String, key: String? = nil, endpoints: [String] = ["192.0.2.\(0):41641"], online: Bool = true) -> NodeInfo {
    // A valid base64 32-byte key per id unless given.
    let k = key ?? Base64.encode([UInt8](repeating: UInt8(id), count: 32))
    return NodeInfo(id: id, name: name, nodeKey: k, discoKey: k, ipv4: "100.64.0.\(id)", ipv6: "fd7a:115c:a1e0::\(id)",
                    endpoints: endpoints, homeRelay: nil, online: online, lastSeen: nil)
}

@Suite struct NetmapStateTests {
    let me = node(1, "me")

    @Test func fullMapAddsEveryPeerButSelf() {
        var s = NetmapState()
        #expect(s.sinceVersion == nil)
        let d = s.apply(MapResponse(kind: .full, version: 5, self: me, peers: [me, node(2, "b"), node(3, "c")]))
        #expect(d.added.map(\.id) == [2, 3])
        #expect(d.changed.isEmpty && d.removed.isEmpty)
        #expect(s.sinceVersion == 5)
        #expect(s.selfNode == me)
        #expect(s.sortedPeers.map(\.name) == ["b", "c"])
    }

    /// A map loaded at start keeps its peers but asks for a full map, which replaces them.
    @Test func resumedMapAsksForAFullOne() {
        var s = NetmapState()
        s.apply(MapResponse(kind: .full, version: 5, self: me, peers: [node(2, "b"), node(3, "c")]))
        var resumed = s.resumed()
        #expect(resumed.sinceVersion == nil)
        #expect(resumed.peers == s.peers && resumed.selfNode == me && resumed.sameContent(as: s))
        let d = resumed.apply(MapResponse(kind: .full, version: 12, self: me, peers: [node(2, "b"), node(4, "d")]))
        #expect(d.added.map(\.id) == [4] && d.removed.map(\.id) == [3] && d.changed.isEmpty)
        #expect(resumed.sinceVersion == 12)
    }

    @Test func keepaliveIsNoContentChange() {
        var s = NetmapState()
        s.apply(MapResponse(kind: .full, version: 5, self: me, peers: [node(2, "b")]))
        let before = s
        s.apply(MapResponse(kind: .keepAlive, version: 6))
        #expect(s.version == 6 && s.sameContent(as: before))
        s.apply(MapResponse(kind: .delta, version: 7, peersChanged: [node(3, "c")]))
        #expect(!s.sameContent(as: before))
    }

    @Test func deltasChangeAndRemove() {
        var s = NetmapState()
        s.apply(MapResponse(kind: .full, version: 5, self: me, peers: [node(2, "b"), node(3, "c")]))
        var b2 = node(2, "b")
        b2.endpoints = ["198.51.100.7:5000"]
        let d = s.apply(MapResponse(kind: .delta, version: 7, peersChanged: [b2, node(4, "d")], peersRemoved: [3]))
        #expect(d.added.map(\.id) == [4])
        #expect(d.changed.map(\.new) == [b2])
        #expect(d.changed.first?.old == node(2, "b"))
        #expect(d.removed.map(\.id) == [3])
        #expect(s.version == 7)
        #expect(Set(s.peers.keys) == [2, 4])
        // An unchanged entry is no change; removing an unknown id is nothing.
        let d2 = s.apply(MapResponse(kind: .delta, version: 8, peersChanged: [b2], peersRemoved: [99]))
        #expect(d2.isEmpty)
        #expect(s.version == 8)
    }

    @Test func keepAliveOnlyMovesTheVersion() {
        var s = NetmapState()
        // Before any full map a keepalive changes nothing: the next poll still asks for everything.
        #expect(s.apply(.keepAlive(version: 3)).isEmpty)
        #expect(s.sinceVersion == nil)
        s.apply(MapResponse(kind: .full, version: 5, self: me, peers: [node(2, "b")]))
        #expect(s.apply(.keepAlive(version: 6)).isEmpty)
        #expect(s.sinceVersion == 6)
        #expect(s.peers.count == 1)
    }

    @Test func secondFullMapIsDiffedAgainstTheFirst() {
        var s = NetmapState()
        s.apply(MapResponse(kind: .full, version: 5, self: me, peers: [node(2, "b"), node(3, "c")]))
        var c2 = node(3, "c")
        c2.online = false
        let d = s.apply(MapResponse(kind: .full, version: 2, self: me, peers: [c2, node(4, "d")]))
        #expect(d.added.map(\.id) == [4])
        #expect(d.changed.map(\.new.id) == [3])
        #expect(d.removed.map(\.id) == [2])
        // A full map is authoritative even with a lower version (coordinator restored).
        #expect(s.version == 2)
    }

    @Test func selfInADeltaIsNotAPeer() {
        var s = NetmapState()
        s.apply(MapResponse(kind: .full, version: 1, self: me, peers: []))
        var me2 = me
        me2.endpoints = ["203.0.113.1:1"]
        let d = s.apply(MapResponse(kind: .delta, version: 2, self: me2, peersChanged: [me2]))
        #expect(d.isEmpty)
        #expect(s.selfNode == me2)
    }

    @Test func resetRemovesEverything() {
        var s = NetmapState()
        s.apply(MapResponse(kind: .full, version: 5, self: me, peers: [node(2, "b"), node(3, "c")]))
        let d = s.reset()
        #expect(d.removed.map(\.id) == [2, 3])
        #expect(s.peers.isEmpty && s.sinceVersion == nil)
    }
    /// The packet filter: a full map sets it (nil: no policy), a delta without one keeps it,
    /// it counts as content (saved), and a saved map that predates it still decodes.
    @Test func packetFilterFollowsFullMapsAndDeltas() throws {
        let filter = PacketFilterMessage(enforced: true, rules: [
            .init(sources: ["100.64.0.2/32"], destinations: ["100.64.0.1"], protocols: [6], ports: [.init(first: 22, last: 22)]),
        ], policyVersion: 3)
        var s = NetmapState()
        s.apply(MapResponse(kind: .full, version: 1, self: me, peers: [node(2, "b")], packetFilter: filter))
        #expect(s.packetFilter == filter)
        let before = s
        s.apply(MapResponse(kind: .delta, version: 2, peersChanged: [node(3, "c")]))
        #expect(s.packetFilter == filter)
        let other = PacketFilterMessage(enforced: true, rules: [], policyVersion: 4)
        s.apply(MapResponse(kind: .delta, version: 3, packetFilter: other))
        #expect(s.packetFilter == other)
        #expect(!s.sameContent(as: before))
        #expect(s.resumed().packetFilter == other)
        s.apply(MapResponse(kind: .full, version: 4, self: me, peers: [node(2, "b")]))
        #expect(s.packetFilter == nil)

        var withFilter = NetmapState()
        withFilter.apply(MapResponse(kind: .full, version: 1, self: me, peers: [node(2, "b")], packetFilter: filter))
        let data = try JSONEncoder().encode(withFilter)
        #expect(try JSONDecoder().decode(NetmapState.self, from: data) == withFilter)
        var json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        json.removeValue(forKey: "packetFilter")
        let old = try JSONDecoder().decode(NetmapState.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(old.packetFilter == nil && old.peers == withFilter.peers)
    }
}

/// Peers the policy hides from this node (`MapResponse.peersHidden`): kept with the entry the
/// node last had, shown again when the coordinator lists them again, forgotten when it says
/// they are gone; ids the node never saw teach it nothing; bounded.
@Suite struct NetmapStateHiddenPeersTests {
    let me = node(1, "me")

    func mapWithPeers(_ ids: ClosedRange<Int64>) -> NetmapState {
        var s = NetmapState()
        s.apply(MapResponse(kind: .full, version: 5, self: me, peers: ids.map { node($0, "n\($0)") }))
        return s
    }

    @Test func aDeltaHidingAPeerKeepsItsLastEntryOutOfThePeers() {
        var s = mapWithPeers(2...4)
        let d = s.apply(MapResponse(kind: .delta, version: 6, peersRemoved: [2, 3], peersHidden: [2]))
        #expect(d.removed.map(\.id) == [2, 3])
        #expect(s.peers.keys.sorted() == [4])
        #expect(s.hiddenPeers == [2: node(2, "n2")])
        #expect(s.sortedHiddenPeers.map(\.name) == ["n2"])
    }

    /// A coordinator may list a hidden id only in `peersHidden`: it is removed all the same.
    @Test func aHiddenIdOutsidePeersRemovedIsRemovedToo() {
        var s = mapWithPeers(2...3)
        let d = s.apply(MapResponse(kind: .delta, version: 6, peersHidden: [3]))
        #expect(d.removed.map(\.id) == [3] && s.peers.keys.sorted() == [2] && s.hiddenPeers.keys.sorted() == [3])
    }

    @Test func aHiddenPeerShownAgainLeavesTheHiddenList() {
        var s = mapWithPeers(2...3)
        s.apply(MapResponse(kind: .delta, version: 6, peersRemoved: [2], peersHidden: [2]))
        var b = node(2, "n2")
        b.endpoints = ["198.51.100.7:41641"]
        let d = s.apply(MapResponse(kind: .delta, version: 7, peersChanged: [b]))
        #expect(d.added == [b] && s.peers[2] == b && s.hiddenPeers.isEmpty)
    }

    @Test func aHiddenPeerRemovedForGoodIsForgotten() {
        var s = mapWithPeers(2...3)
        s.apply(MapResponse(kind: .delta, version: 6, peersRemoved: [2], peersHidden: [2]))
        let d = s.apply(MapResponse(kind: .delta, version: 7, peersRemoved: [2]))
        #expect(d.isEmpty && s.hiddenPeers.isEmpty)
        // And a plain removal of a listed peer is no hiding.
        s.apply(MapResponse(kind: .delta, version: 8, peersRemoved: [3]))
        #expect(s.peers.isEmpty && s.hiddenPeers.isEmpty)
    }

    @Test func idsThisNodeNeverSawAreIgnored() {
        var s = mapWithPeers(2...3)
        s.apply(MapResponse(kind: .delta, version: 6, peersRemoved: [9], peersHidden: [9, 1]))
        #expect(s.hiddenPeers.isEmpty && s.peers.count == 2)
        s.apply(MapResponse(kind: .full, version: 7, self: me, peers: [node(2, "n2")], peersHidden: [3, 8, 1, 2]))
        // 3 was a peer: hidden now; 8 never seen, 1 is this node, 2 is listed: none of them.
        #expect(s.hiddenPeers.keys.sorted() == [3] && s.peers.keys.sorted() == [2])
    }

    /// A full map says the whole truth: hidden peers it no longer lists are forgotten, the
    /// ones it lists keep the entry the node had (from its peers or its hidden list).
    @Test func aFullMapReplacesTheHiddenList() {
        var s = mapWithPeers(2...4)
        s.apply(MapResponse(kind: .delta, version: 6, peersRemoved: [2, 3], peersHidden: [2, 3]))
        let d = s.apply(MapResponse(kind: .full, version: 9, self: me, peers: [], peersHidden: [2, 4]))
        #expect(d.removed.map(\.id) == [4])
        #expect(s.hiddenPeers == [2: node(2, "n2"), 4: node(4, "n4")])
        s.apply(MapResponse(kind: .full, version: 10, self: me, peers: [node(2, "n2")]))
        #expect(s.hiddenPeers.isEmpty)
    }

    @Test func theHiddenListIsBounded() {
        let bound = MapResponse.maxHiddenPeers
        var s = mapWithPeers(2...Int64(bound + 50))
        let all = Array(2...Int64(bound + 50))
        s.apply(MapResponse(kind: .delta, version: 6, peersRemoved: all, peersHidden: all.reversed()))
        #expect(s.peers.isEmpty)
        #expect(s.hiddenPeers.count == bound)
        var full = mapWithPeers(2...Int64(bound + 50))
        full.apply(MapResponse(kind: .full, version: 6, self: me, peers: [], peersHidden: all))
        #expect(full.hiddenPeers.count == bound && full.hiddenPeers.keys.sorted() == Array(all.prefix(bound)))
    }

    @Test func hiddenPeersAreContentAndSurviveASaveButNotAReset() throws {
        var s = mapWithPeers(2...3)
        let before = s
        s.apply(MapResponse(kind: .delta, version: 6, peersRemoved: [2], peersHidden: [2]))
        #expect(!s.sameContent(as: before))
        #expect(s.resumed().hiddenPeers == s.hiddenPeers)
        let data = try JSONEncoder().encode(s)
        #expect(try JSONDecoder().decode(NetmapState.self, from: data) == s)
        // A netmap saved before hidden peers existed still loads.
        var json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        json.removeValue(forKey: "hiddenPeers")
        let old = try JSONDecoder().decode(NetmapState.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(old.hiddenPeers.isEmpty && old.peers == s.peers)
        let d = s.reset()
        #expect(d.removed.map(\.id) == [3] && s.hiddenPeers.isEmpty)
    }
}

@Suite struct PeerPlanTests {
    @Test func configFromNode() throws {
        let c = try #require(PeerConfig(node(2, "b", endpoints: ["bogus", "192.0.2.2:41641", "192.0.2.3:1"])))
        #expect(c.allowedIPs == ["100.64.0.2/32", "fd7a:115c:a1e0::2/128"])
        #expect(c.endpoint == "192.0.2.2:41641")
        #expect(PeerConfig(node(2, "b", key: "not a key")) == nil)
        #expect(PeerConfig(node(2, "b", endpoints: []))?.endpoint == nil)
    }

    @Test func planAddsUpdatesRemoves() throws {
        let b = node(2, "b"), c = node(3, "c")
        var (actions, table) = DevicePeerSync.plan(current: [:], diff: PeerDiff(added: [b, c]))
        #expect(actions == [.add(PeerConfig(b)!), .add(PeerConfig(c)!)])
        // A change that does not touch key, addresses or endpoint needs no device work.
        var bOffline = b
        bOffline.online = false
        (actions, table) = DevicePeerSync.plan(current: table, diff: PeerDiff(changed: [PeerChange(old: b, new: bOffline)]))
        #expect(actions.isEmpty)
        var bMoved = b
        bMoved.endpoints = ["198.51.100.9:7"]
        (actions, table) = DevicePeerSync.plan(current: table, diff: PeerDiff(changed: [PeerChange(old: b, new: bMoved)]))
        #expect(actions == [.update(PeerConfig(bMoved)!)])
        // New key for the same node: the old key goes first.
        var bRekeyed = bMoved
        bRekeyed.nodeKey = Base64.encode([UInt8](repeating: 0xEE, count: 32))
        (actions, table) = DevicePeerSync.plan(current: table, diff: PeerDiff(changed: [PeerChange(old: bMoved, new: bRekeyed)]))
        #expect(actions == [.remove(publicKey: bMoved.nodeKey), .add(PeerConfig(bRekeyed)!)])
        (actions, table) = DevicePeerSync.plan(current: table, diff: PeerDiff(removed: [c, node(9, "unknown")]))
        #expect(actions == [.remove(publicKey: c.nodeKey)])
        #expect(Set(table.keys) == [2])
    }

}
