import Foundation
import MeshLocalAPI
import MeshStatus
import Testing

@Suite struct WhoIsAnswerTests {
    @Test func aPeer() throws {
        let s = Fixtures.status
        let w = WhoIsAnswer(try PeerLookup.find("100.64.0.3", in: s), in: s)
        #expect(w.lines == ["name       c", "key        CCCCcccc (\(Fixtures.keyC))",
                            "addresses  100.64.0.3 fd7a:115c:a1e0::3", "user       -", "tags       tag:db, tag:eu",
                            "online     no", "path       relay"])
        let json = String(decoding: try JSONEncoder().encode(w), as: UTF8.self)
        #expect(json.contains("\"self\":false") && json.contains("\"hiddenByPolicy\":false"))
        #expect(json.contains("\"tags\":[\"tag:db\",\"tag:eu\"]") && !json.contains("\"user\""))
        let b = WhoIsAnswer(try PeerLookup.find("100.64.0.2", in: s), in: s)
        #expect(b.user == "alice" && b.tags.isEmpty)
        #expect(b.lines.contains("user       alice") && b.lines.contains("tags       -"))
    }

    /// The --json schema docs/meshctl.md documents: every key, and nothing else.
    @Test func jsonKeysAreTheDocumentedOnes() throws {
        let s = Fixtures.status
        let w = WhoIsAnswer(try PeerLookup.find("100.64.0.3", in: s), in: s)
        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(w)) as? [String: Any])
        #expect(Set(object.keys) == ["name", "publicKey", "key", "ipv4", "ipv6", "tags", "online", "self", "path",
                                     "hiddenByPolicy"])
        let hidden = WhoIsAnswer(absent: try #require(Fixtures.status.absentPeers?.first))
        let h = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(hidden)) as? [String: Any])
        #expect(Set(h.keys) == ["name", "publicKey", "key", "ipv4", "ipv6", "user", "tags", "self", "hiddenByPolicy"])
        #expect(h["hiddenByPolicy"] as? Bool == true && h["self"] as? Bool == false)
    }

    /// A peer the policy hides from this node: named as hidden, with what this node last knew
    /// of it, and neither presence nor path (the coordinator sends nothing more).
    @Test func aPeerHiddenByThePolicy() throws {
        let s = Fixtures.status
        #expect(throws: PeerLookupError.self) { try PeerLookup.find("100.64.0.4", in: s) }
        let d = try #require(PeerLookup.absent("100.64.0.4", in: s))
        let w = WhoIsAnswer(absent: d)
        #expect(w.hiddenByPolicy && w.online == nil && w.path == nil && w.user == "bob" && !w.isSelf)
        #expect(w.lines == ["name       d", "key        DDDDdddd (\(Fixtures.keyD))",
                            "addresses  100.64.0.4 fd7a:115c:a1e0::4", "user       bob", "tags       -",
                            "status     absent: hidden from this node by the access policy (details as last seen)"])
    }

    @Test func textFromTheNetworkLosesItsControlCharacters() throws {
        var s = Fixtures.status
        s.peers[0].user = "al\u{1B}[2Jice"
        s.peers[0].tags = ["tag:x\u{9B}"]
        let w = WhoIsAnswer(try PeerLookup.find("b", in: s), in: s)
        #expect(w.lines.contains("user       al?[2Jice") && w.lines.contains("tags       tag:x?"))
    }

    @Test func thisNode() throws {
        let s = Fixtures.status
        let w = WhoIsAnswer(.this, in: s)
        #expect(w.isSelf && w.online == true && w.name == "a" && w.key == "AAAAaaaa")
        #expect(w.lines.first == "name       a (this node)")
        #expect(w.user == "alice" && w.tags.isEmpty && !w.hiddenByPolicy)
    }
}
