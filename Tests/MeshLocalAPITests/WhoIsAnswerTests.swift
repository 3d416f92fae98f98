import Foundation
import MeshLocalAPI
import MeshStatus
import Testing

@Suite struct WhoIsAnswerTests {
    @Test func aPeer() throws {
        let s = Fixtures.status
        let w = WhoIsAnswer(try PeerLookup.find("100.64.0.3", in: s), in: s)
        #expect(w.lines == ["name       c", "key        CCCCcccc (\(Fixtures.keyC))",
                            "addresses  100.64.0.3 fd7a:115c:a1e0::3", "online     no", "path       relay"])
        let json = String(decoding: try JSONEncoder().encode(w), as: UTF8.self)
        #expect(json.contains("\"self\":false"))
    }

    @Test func thisNode() throws {
        let s = Fixtures.status
        let w = WhoIsAnswer(.this, in: s)
        #expect(w.isSelf && w.online == true && w.name == "a" && w.key == "AAAAaaaa")
        #expect(w.lines.first == "name       a (this node)")
    }
}
