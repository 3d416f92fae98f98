import Foundation
import MeshBase
import MeshPolicy
import Testing

@Suite struct PolicyTests {
    let tcp = IPProtocolNumber.tcp

    @Test func theIssuesExampleOverIPv4AndIPv6() throws {
        let p = try Fixture.policy()
        for (a, d) in [(Fixture.alice.ipv4!, Fixture.db.ipv4!), (Fixture.alice.ipv6!, Fixture.db.ipv6!)] {
            #expect(p.check(source: a, destination: d, proto: tcp, port: 5432))
            #expect(!p.check(source: a, destination: d, proto: tcp, port: 22))
            #expect(!p.check(source: a, destination: d, proto: tcp, port: 5433))
        }
        #expect(p.check(source: Fixture.bob, destination: Fixture.db.ipv6!, proto: tcp, port: 5432))
        #expect(p.check(source: Fixture.bob, destination: Fixture.db.ipv4!, proto: IPProtocolNumber.udp, port: 5432))
        // The contractor is a member, not a developer.
        #expect(!p.check(source: Fixture.carol, destination: Fixture.db.ipv4!, proto: tcp, port: 5432))
        #expect(p.check(source: Fixture.carol, destination: Fixture.web.ipv4!, proto: tcp, port: 80))
        #expect(p.check(source: Fixture.carol, destination: Fixture.web.ipv6!, proto: tcp, port: 443))
        #expect(!p.check(source: Fixture.carol, destination: Fixture.web.ipv4!, proto: tcp, port: 8080))
        // The database host cannot open connections back, nor reach the web host (tagged nodes
        // are not members).
        #expect(!p.check(source: Fixture.db, destination: Fixture.alice.ipv4!, proto: tcp, port: 22))
        #expect(!p.check(source: Fixture.db, destination: Fixture.web.ipv4!, proto: tcp, port: 80))
        #expect(!p.check(source: Fixture.web, destination: Fixture.db.ipv4!, proto: tcp, port: 5432))
        // A proto without ports matches any rule that allows it between the two addresses.
        #expect(p.check(source: Fixture.carol, destination: Fixture.web.ipv4!, proto: IPProtocolNumber.icmp, port: 0))
        #expect(!p.check(source: Fixture.carol, destination: Fixture.db.ipv4!, proto: IPProtocolNumber.icmp, port: 0))
        #expect(!p.check(source: Fixture.alice, destination: Fixture.db.ipv4!, proto: IPProtocolNumber.gre, port: 0))
        // A family the source has no address of.
        let v4only = PolicyNode(id: 9, name: "x", user: "alice", ipv4: Fixture.v4(9))
        #expect(!p.check(source: v4only, destination: Fixture.db.ipv6!, proto: tcp, port: 5432))
    }

    @Test func wildcardPrefixesHostsAndProtocols() throws {
        let p = try Fixture.policy("""
        {"hosts": {"office": "192.0.2.0/24"},
         "tagOwners": {"tag:db": []},
         "acls": [
           {"action": "accept", "src": ["office"], "dst": ["tag:db:22"]},
           {"action": "accept", "src": ["*"], "dst": ["100.64.0.20:8000-8999"], "proto": "udp"},
           {"action": "accept", "src": ["fd7a:115c:a1e0::/120"], "dst": ["[fd7a:115c:a1e0::14]:*"]},
         ]}
        """)
        #expect(p.check(source: .v4(0xC000_0207), destination: Fixture.db.ipv4!, proto: tcp, port: 22))
        #expect(!p.check(source: .v4(0xC000_0307), destination: Fixture.db.ipv4!, proto: tcp, port: 22))
        #expect(p.check(source: .v4(0x0808_0808), destination: Fixture.web.ipv4!, proto: IPProtocolNumber.udp, port: 8500))
        #expect(!p.check(source: .v4(0x0808_0808), destination: Fixture.web.ipv4!, proto: tcp, port: 8500))
        #expect(!p.check(source: .v4(0x0808_0808), destination: Fixture.web.ipv4!, proto: IPProtocolNumber.udp, port: 9000))
        #expect(p.check(source: Fixture.carol.ipv6!, destination: Fixture.web.ipv6!, proto: tcp, port: 1))
        #expect(!p.check(source: Fixture.carol.ipv4!, destination: Fixture.web.ipv4!, proto: tcp, port: 1))
    }

    @Test func autogroupSelfOpensOnlyTheUsersOwnNodes() throws {
        let dir = PolicyDirectory(nodes: [Fixture.alice, Fixture.aliceDesktop, Fixture.bob, Fixture.db])
        let p = try Fixture.policy("""
        {"acls": [{"action": "accept", "src": ["autogroup:member"], "dst": ["autogroup:self:22"]}]}
        """, directory: dir)
        #expect(p.check(source: Fixture.alice, destination: Fixture.aliceDesktop.ipv4!, proto: tcp, port: 22))
        #expect(!p.check(source: Fixture.alice, destination: Fixture.aliceDesktop.ipv4!, proto: tcp, port: 23))
        #expect(!p.check(source: Fixture.bob, destination: Fixture.aliceDesktop.ipv4!, proto: tcp, port: 22))
        // db belongs to alice but is tagged: it is not hers for autogroup:self, in either direction.
        #expect(!p.check(source: Fixture.alice, destination: Fixture.db.ipv4!, proto: tcp, port: 22))
        #expect(!p.check(source: Fixture.db, destination: Fixture.alice.ipv4!, proto: tcp, port: 22))
    }

    @Test func testsBlockPasses() throws {
        _ = try Fixture.policy()
    }

    @Test func contradictingTestNamesTheTestsPosition() {
        let text = """
        {"groups": {"group:dev": ["alice"]},
         "tagOwners": {"tag:db": []},
         "acls": [{"action": "accept", "src": ["group:dev"], "dst": ["tag:db:5432"]}],
         "tests": [
           {"src": "alice", "accept": ["tag:db:5432"]},
           {"src": "bob", "accept": ["tag:db:5432"]},
         ]}
        """
        let e = policyError { _ = try Fixture.policy(text) }
        #expect(e?.position == SourcePosition(line: 6, column: 4))
        #expect(e?.reason.contains("test at 6:4 fails") == true)
        #expect(e?.reason.contains("denies bob") == true)

        let denyText = text.replacingOccurrences(of: #"{"src": "bob", "accept""#, with: #"{"src": "alice", "deny""#)
        let d = policyError { _ = try Fixture.policy(denyText) }
        #expect(d?.position == SourcePosition(line: 6, column: 4))
        #expect(d?.reason.contains("accepts alice") == true)
    }

    @Test func testsCheckEveryAddressFamilyAndRefuseVacuousOnes() {
        // Only the IPv4 address is open: the test of the IPv6 pair fails.
        let text = """
        {"tagOwners": {"tag:db": []},
         "acls": [{"action": "accept", "src": ["alice"], "dst": ["100.64.0.10:5432"]}],
         "tests": [{"src": "alice", "accept": ["tag:db:5432"]}]}
        """
        #expect(policyError { _ = try Fixture.policy(text) }?.reason.contains("fd7a:115c:a1e0::1") == true)
        // A user without nodes has nothing to test from.
        let vacuous = """
        {"acls": [{"action": "accept", "src": ["*"], "dst": ["*:*"]}],
         "tests": [{"src": "dave", "accept": ["alice:22"]}]}
        """
        #expect(policyError { _ = try Fixture.policy(vacuous) }?.reason.contains("no node or address") == true)
        let noPair = """
        {"acls": [{"action": "accept", "src": ["*"], "dst": ["*:*"]}],
         "tests": [{"src": "192.0.2.1", "accept": ["alice:22"]}]}
        """
        // 192.0.2.1 has no IPv6 address, alice's v4 is reachable: one pair, passes.
        #expect(policyError { _ = try Fixture.policy(noPair) } == nil)
        let v6Only = """
        {"acls": [{"action": "accept", "src": ["*"], "dst": ["*:*"]}],
         "tests": [{"src": "2001:db8::1", "accept": ["192.0.2.9:22"]}]}
        """
        #expect(policyError { _ = try Fixture.policy(v6Only) }?.reason.contains("no pair") == true)
    }

    @Test func testsWithProtocol() throws {
        _ = try Fixture.policy("""
        {"acls": [{"action": "accept", "src": ["alice"], "dst": ["bob:53"], "proto": "udp"}],
         "tests": [{"src": "alice", "proto": "udp", "accept": ["bob:53"]}, {"src": "alice", "deny": ["bob:53"]}]}
        """)
    }
}
