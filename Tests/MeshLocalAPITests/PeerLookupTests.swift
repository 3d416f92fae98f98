import MeshLocalAPI
import MeshStatus
import Testing

@Suite struct PeerLookupTests {
    let status = Fixtures.status

    func name(_ m: PeerLookup.Match) -> String? {
        if case .peer(let p) = m { return p.name }
        return "self"
    }

    @Test func findsByNameAddressAndKey() throws {
        #expect(name(try PeerLookup.find("b", in: status)) == "b")
        #expect(name(try PeerLookup.find("B", in: status)) == "b")
        #expect(name(try PeerLookup.find("100.64.0.3", in: status)) == "c")
        // Another spelling of the same IPv6 address.
        #expect(name(try PeerLookup.find("fd7a:115c:a1e0:0:0::2", in: status)) == "b")
        #expect(name(try PeerLookup.find(Fixtures.keyC, in: status)) == "c")
        #expect(name(try PeerLookup.find("CCCCcccc", in: status)) == "c")
    }

    @Test func findsThisNodeToo() throws {
        #expect(try PeerLookup.find("100.64.0.1", in: status) == .this)
        #expect(try PeerLookup.find("a", in: status) == .this)
    }

    @Test func aMissOrAnAmbiguityIsOneSentence() {
        #expect(throws: PeerLookupError("no peer named 'zed' in this node's netmap (peers: b, c)")) {
            try PeerLookup.find("zed", in: status)
        }
        #expect(throws: PeerLookupError("no node of this network has the overlay address 100.64.0.9")) {
            try PeerLookup.find("100.64.0.9", in: status)
        }
        var twice = status
        twice.peers[1].name = "b"
        #expect(throws: PeerLookupError("2 peers are named 'b'; name one by its address or key")) {
            try PeerLookup.find("b", in: twice)
        }
        // Too short a key prefix is not taken as a key.
        #expect(throws: PeerLookupError.self) { try PeerLookup.find("CCCC", in: status) }
    }

    /// A peer the policy hides from this node is never a match (ping and ip cannot use it),
    /// but the miss says why, by any of the names `find` takes.
    @Test func aPeerHiddenByThePolicySaysSo() {
        let hidden = PeerLookupError("d (100.64.0.4) is hidden from this node by the access policy")
        for query in ["d", "D", "100.64.0.4", "fd7a:115c:a1e0:0::4", Fixtures.keyD, "DDDDdddd"] {
            #expect(throws: hidden, "\(query)") { try PeerLookup.find(query, in: status) }
            #expect(PeerLookup.absent(query, in: status)?.name == "d", "\(query)")
        }
        #expect(PeerLookup.absent("b", in: status) == nil && PeerLookup.absent("100.64.0.9", in: status) == nil)
        var none = status
        none.absentPeers = nil
        #expect(PeerLookup.absent("d", in: none) == nil)
    }
}
