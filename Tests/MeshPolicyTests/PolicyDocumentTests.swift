import Foundation
import MeshBase
import MeshPolicy
import Testing

@Suite struct PolicyDocumentTests {
    /// A policy whose acls entry is `rule` (one line, line 4), with the example's definitions.
    func withRule(_ rule: String) -> String {
        """
        {"groups": {"group:dev": ["alice", "bob"]},
         "tagOwners": {"tag:db": ["group:dev"]},
         "hosts": {"office": "192.0.2.0/24", "db-v6": "fd7a:115c:a1e0::a"},
         "acls": [\(rule)]}
        """
    }

    func error(_ text: String) -> PolicyError? {
        policyError { _ = try Policy(document: try PolicyDocument.parse(text), directory: Fixture.directory) }
    }

    @Test func parsesTheExample() throws {
        let doc = try PolicyDocument.parse(Fixture.policyText)
        #expect(doc.groups["group:dev"]?.map(\.value) == ["alice", "bob"])
        #expect(doc.hosts["office"] == (try IPPrefix("192.0.2.0/24")))
        #expect(doc.rules.count == 2)
        #expect(doc.rules[0].sources.map(\.value) == [.group("group:dev")])
        #expect(doc.rules[0].destinations.map(\.alias) == [.tag("tag:db")])
        #expect(doc.rules[0].destinations[0].ports == [PortRange(single: 5432)])
        #expect(doc.rules[1].destinations[0].ports == [PortRange(single: 80), PortRange(single: 443)])
        #expect(doc.rules[0].protocols == IPProtocolSet.defaultProtocols)
        #expect(doc.rules[0].position == SourcePosition(line: 14, column: 5))
        #expect(doc.tests.count == 3)
        #expect(doc.tests[1].source.value == .user("carol"))
    }

    @Test func destinationsAndPortForms() throws {
        let doc = try PolicyDocument.parse(withRule("""
        {"action": "accept", "src": ["*"], "dst": ["*:*", "office:22,80-90,100", "100.64.0.0/10:1-1024", "[fd7a:115c:a1e0::a]:5432", "db-v6:443", "fd7a:115c:a1e0::/48:53", "alice@:8080", "autogroup:member:22"]}
        """))
        let d = doc.rules[0].destinations
        #expect(d[0].alias == .any && d[0].ports == [.all])
        #expect(d[1].alias == .host("office") && d[1].ports == [PortRange(single: 22), PortRange(80, 90), PortRange(single: 100)])
        #expect(d[2].alias == .prefix(try IPPrefix("100.64.0.0/10")) && d[2].ports == [PortRange(1, 1024)])
        #expect(d[3].alias == .prefix(IPPrefix(host: Fixture.v6(10))) && d[3].ports == [PortRange(single: 5432)])
        #expect(d[4].alias == .host("db-v6"))
        #expect(d[5].alias == .prefix(try IPPrefix("fd7a:115c:a1e0::/48")))
        #expect(d[6].alias == .user("alice"))
        #expect(d[7].alias == .autogroupMember)
    }

    @Test func protocolByNameOrNumber() throws {
        let doc = try PolicyDocument.parse(withRule("""
        {"action": "accept", "src": ["*"], "dst": ["*:53"], "proto": "udp"},
        {"action": "accept", "src": ["*"], "dst": ["*:*"], "proto": "ipv6-icmp"},
        {"action": "accept", "src": ["*"], "dst": ["*:*"], "proto": "47"},
        {"action": "accept", "src": ["*"], "dst": ["*:9"], "proto": 132}
        """))
        #expect(doc.rules.map(\.protocols) == [IPProtocolSet([17]), IPProtocolSet([58]), IPProtocolSet([47]), IPProtocolSet([132])])
    }

    @Test func eachKindOfErrorNamesItsPositionAndReason() {
        let cases: [(rule: String, needle: String, reason: String)] = [
            (#"{"action": "accept", "src": ["group:ops"], "dst": ["*:*"]}"#, #""group:ops""#, "unknown group"),
            (#"{"action": "accept", "src": ["tag:cache"], "dst": ["*:*"]}"#, #""tag:cache""#, "unknown tag"),
            (#"{"action": "accept", "src": ["mallory"], "dst": ["*:*"]}"#, #""mallory""#, "unknown user"),
            (#"{"action": "accept", "src": ["*"], "dst": ["tag:db:65536"]}"#, #""tag:db:65536""#, "not a port"),
            (#"{"action": "accept", "src": ["*"], "dst": ["tag:db:90-80"]}"#, #""tag:db:90-80""#, "ends before it starts"),
            (#"{"action": "accept", "src": ["*"], "dst": ["tag:db:22,"]}"#, #""tag:db:22,""#, "empty entry"),
            (#"{"action": "accept", "src": ["*"], "dst": ["tag:db"]}"#, #""tag:db""#, "needs ports"),
            (#"{"action": "accept", "src": ["10.0.0.0/33"], "dst": ["*:*"]}"#, #""10.0.0.0/33""#, "exceeds 32"),
            (#"{"action": "accept", "src": ["10.0.0.256"], "dst": ["*:*"]}"#, #""10.0.0.256""#, "exceeds 255"),
            (#"{"action": "accept", "src": ["fd7a::g"], "dst": ["*:*"]}"#, #""fd7a::g""#, "not a hex group"),
            (#"{"action": "accept", "src": ["*"], "dst": ["*:*"], "ports": ["22"]}"#, #""ports""#, "unknown key"),
            (#"{"action": "deny", "src": ["*"], "dst": ["*:*"]}"#, #""deny""#, "only action"),
            (#"{"action": "accept", "src": ["*"], "dst": ["*:*"], "proto": "tcpp"}"#, #""tcpp""#, "unknown protocol"),
            (#"{"action": "accept", "src": ["*"], "dst": ["*:22"], "proto": "icmp"}"#, #""*:22""#, "has no ports"),
            (#"{"action": "accept", "src": ["autogroup:self"], "dst": ["*:*"]}"#, #""autogroup:self""#, "only be a destination"),
            (#"{"action": "accept", "src": ["autogroup:admin"], "dst": ["*:*"]}"#, #""autogroup:admin""#, "not supported"),
            (#"{"action": "accept", "src": ["*"], "dst": ["autogroup:self:*"]}"#, #""*""#, "sources must be users"),
            (#"{"action": "accept", "src": [], "dst": ["*:*"]}"#, "[]", "allows nothing"),
            (#"{"action": "accept", "src": "alice", "dst": ["*:*"]}"#, #""alice""#, "must be an array"),
        ]
        for c in cases {
            let text = withRule(c.rule)
            guard let e = error(text) else {
                Issue.record("accepted: \(c.rule)")
                continue
            }
            let line4 = text.split(separator: "\n", omittingEmptySubsequences: false)[3]
            let column = line4.distance(from: line4.startIndex, to: line4.range(of: c.needle)!.lowerBound) + 1
            #expect(e.position == SourcePosition(line: 4, column: column), "\(c.rule): \(e)")
            #expect(e.reason.contains(c.reason), "\(c.rule): \(e)")
            #expect(e.description.hasPrefix("4:\(column): "))
        }
    }

    @Test func sectionErrors() {
        #expect(error(#"{"ssh": []}"#)?.reason.contains("unknown top-level key") == true)
        #expect(error(#"{"groups": {"dev": ["alice"]}}"#)?.reason.contains("group names start with") == true)
        #expect(error(#"{"groups": {"group:dev": ["tag:x"]}}"#)?.reason.contains("must be users") == true)
        #expect(error(#"{"groups": {"group:dev": ["zed"]}}"#)?.reason.contains("unknown user \"zed\"") == true)
        #expect(error(#"{"tagOwners": {"db": []}}"#)?.reason.contains("tag names start with") == true)
        #expect(error(#"{"tagOwners": {"tag:db": ["group:nope"]}}"#)?.reason.contains("unknown group") == true)
        #expect(error(#"{"hosts": {"h": "300.1.1.1"}}"#)?.position == SourcePosition(line: 1, column: 17))
        #expect(error(#"{"tests": [{"src": "alice"}]}"#)?.reason.contains("needs \"accept\" or \"deny\"") == true)
        #expect(error(#"{"tests": [{"src": "alice", "accept": ["*:22"]}]}"#)?.reason.contains("must name nodes") == true)
        #expect(error(#"{"tests": [{"src": "alice", "accept": ["alice:22-23"]}]}"#)?.reason.contains("one port") == true)
        #expect(error(#"{"tests": [{"src": "alice", "allow": ["alice:22"]}]}"#)?.reason.contains("unknown key") == true)
        // Users that exist without nodes are known.
        #expect(error(#"{"groups": {"group:dev": ["dave"]}}"#) == nil)
    }

    @Test func validPortListsNormalize() throws {
        // Adjacent and overlapping ranges merge, the list is sorted.
        #expect(try PortRange.parseList("443,80,81-90,85").get() == [PortRange(80, 90), PortRange(single: 443)])
        #expect((try? PortRange.parseList("+22").get()) == nil)
        #expect((try? PortRange.parseList("0x16").get()) == nil)
        #expect(try PortRange.parseList("0-65535").get() == [.all])
    }
}
