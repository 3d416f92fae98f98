import MeshBase
import MeshEngine
import MeshPolicy
import MeshWire
import Testing

@Suite struct NetmapFilterRulesTests {
    typealias Rule = PacketFilterMessage.Rule
    static let ssh = Rule(sources: ["100.64.0.0/24", "fd7a:115c:a1e0::2/128"], destinations: ["100.64.0.1", "fd7a:115c:a1e0::1"],
                          protocols: [6], ports: [.init(first: 22, last: 22), .init(first: 80, last: 81)])

    @Test func notEnforcedOrAbsentMeansNoFiltering() throws {
        #expect(try NetmapFilterRules.rules(from: nil) == nil)
        #expect(try NetmapFilterRules.rules(from: .allowAll) == nil)
        #expect(try NetmapFilterRules.rules(from: PacketFilterMessage(enforced: false, rules: [Self.ssh])) == nil)
        // Enforced without rules: nothing is allowed in (not "no filter").
        #expect(try NetmapFilterRules.rules(from: PacketFilterMessage(enforced: true, rules: [])) == [])
    }

    @Test func rulesKeepTheirMeaning() throws {
        let rules = try #require(try NetmapFilterRules.rules(from: PacketFilterMessage(enforced: true, rules: [Self.ssh])))
        #expect(rules.count == 1)
        let r = rules[0]
        #expect(r.sources.contains(try IPAddress("100.64.0.77")))
        #expect(r.sources.contains(try IPAddress("fd7a:115c:a1e0::2")))
        #expect(!r.sources.contains(try IPAddress("100.64.1.1")))
        #expect(r.destinations == [try IPAddress("100.64.0.1"), try IPAddress("fd7a:115c:a1e0::1")])
        #expect(r.protocols.contains(6) && !r.protocols.contains(17))
        #expect(r.ports == [PortRange(22, 22), PortRange(80, 81)])
    }

    @Test func oneMalformedFieldRefusesTheWholeFilter() {
        func refused(_ rule: Rule) -> String? {
            do {
                _ = try NetmapFilterRules.rules(from: PacketFilterMessage(enforced: true, rules: [Self.ssh, rule]))
                return nil
            } catch { return error.reason }
        }
        var bad = Self.ssh
        bad.sources = ["100.64.0.0/33"]
        #expect(refused(bad)?.hasPrefix("rule 2: source '100.64.0.0/33'") == true)
        bad = Self.ssh
        bad.sources = ["not\u{1b}[31man address"]
        #expect(refused(bad)?.contains("'not?[31man address'") == true)
        // The parser's own reason quotes the text too: no control character gets through that
        // way either (found by the netmap_filter fuzz target: a source "a1:0\u{3}"), and a long
        // text stays short.
        for text in ["a1:0\u{3}", "\u{1b}[2J" + String(repeating: "9", count: 300)] {
            bad = Self.ssh
            bad.sources = [text]
            let reason = refused(bad) ?? ""
            #expect(!reason.isEmpty && reason.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F || $0 == "…" }, "\(reason)")
            #expect(reason.utf8.count <= 400, "\(reason.utf8.count) bytes")
        }
        bad = Self.ssh
        bad.destinations = ["100.64.0.1/32"]
        #expect(refused(bad)?.hasPrefix("rule 2: destination") == true)
        bad = Self.ssh
        bad.ports = [.init(first: 90, last: 80)]
        #expect(refused(bad) == "rule 2: port range 90-80 ends before it starts")
    }

    @Test func boundsAreCheckedBeforeAnyText() {
        let tooMany = PacketFilterMessage(enforced: true, rules: Array(repeating: Rule(sources: ["x"], destinations: [], protocols: [], ports: []),
                                                                       count: PacketFilterMessage.maxRules + 1))
        #expect(throws: NetmapFilterError.self) { try NetmapFilterRules.rules(from: tooMany) }
        do {
            _ = try NetmapFilterRules.rules(from: tooMany)
        } catch {
            #expect(error.reason.hasPrefix("more than 10000 rules"))
        }
        // A rule for more than the node's two addresses is not the coordinator's: refused
        // before its (here unparsable) sources are read.
        let wide = PacketFilterMessage(enforced: true, rules: [Rule(sources: ["x"], destinations: ["100.64.0.1", "100.64.0.2", "100.64.0.3"],
                                                                   protocols: [6], ports: [])])
        #expect { try NetmapFilterRules.rules(from: wide) } throws: { ($0 as? NetmapFilterError)?.reason == "rule 1: more than 2 destinations (3)" }
    }
}
