import Foundation
import MeshBase
import MeshPolicy
import Testing

@Suite struct NodeFilterTests {
    @Test func theDatabaseHostGetsOnlyItsOwnRule() throws {
        let compiled = try Fixture.policy().compile()
        let db = try #require(compiled.filters[Fixture.db.id])
        #expect(db.rules.count == 1)
        let rule = db.rules[0]
        #expect(rule.ports == [PortRange(single: 5432)])
        #expect(rule.destinations == [Fixture.db.ipv4!, Fixture.db.ipv6!])
        #expect(rule.protocols == IPProtocolSet.defaultProtocols)
        // alice and bob, v4 and v6 (.1 and .2 are adjacent but not one aligned block).
        #expect(rule.sources.prefixes.map(\.description) == ["100.64.0.1/32", "100.64.0.2/32",
                                                            "fd7a:115c:a1e0::1/128", "fd7a:115c:a1e0::2/128"])
        #expect(rule.sources.contains(Fixture.alice.ipv4!) && !rule.sources.contains(Fixture.carol.ipv4!))

        let web = try #require(compiled.filters[Fixture.web.id])
        #expect(web.rules.count == 1)
        #expect(web.rules[0].ports == [PortRange(single: 80), PortRange(single: 443)])
        #expect(web.rules[0].sources.prefixes.map(\.description) == ["100.64.0.1/32", "100.64.0.2/31",
                                                                    "fd7a:115c:a1e0::1/128", "fd7a:115c:a1e0::2/127"])
        // Nobody may open connections to the laptops.
        for n in [Fixture.alice, Fixture.bob, Fixture.carol] { #expect(compiled.filters[n.id]?.rules == []) }
        // The node's filter agrees with the policy.
        #expect(db.allows(source: Fixture.bob.ipv6!, destination: Fixture.db.ipv6!, proto: IPProtocolNumber.tcp, port: 5432))
        #expect(!db.allows(source: Fixture.carol.ipv6!, destination: Fixture.db.ipv6!, proto: IPProtocolNumber.tcp, port: 5432))
    }

    @Test func visibilityIsEitherDirection() throws {
        let compiled = try Fixture.policy().compile()
        #expect(compiled.filters[Fixture.db.id]?.visiblePeers == [1, 2])
        #expect(compiled.filters[Fixture.web.id]?.visiblePeers == [1, 2, 3])
        #expect(compiled.filters[Fixture.alice.id]?.visiblePeers == [4, 5])
        #expect(compiled.filters[Fixture.carol.id]?.visiblePeers == [5])
    }

    @Test func rulesWithTheSameShapeMergeTheirSources() throws {
        let p = try Fixture.policy("""
        {"tagOwners": {"tag:db": []},
         "acls": [
           {"action": "accept", "src": ["alice"], "dst": ["tag:db:5432"]},
           {"action": "accept", "src": ["bob"], "dst": ["tag:db:5432"]},
           {"action": "accept", "src": ["carol"], "dst": ["tag:db:22"]},
         ]}
        """)
        let db = try #require(p.compile().filters[Fixture.db.id])
        #expect(db.rules.count == 2)
        #expect(db.rules[0].ports == [PortRange(single: 5432)])
        // alice's and bob's sources merged: 100.64.0.1-2 is .1/32 + .2/32 (not one aligned
        // block); v6 likewise.
        #expect(db.rules[0].sources.prefixes.map(\.description) == ["100.64.0.1/32", "100.64.0.2/32",
                                                                    "fd7a:115c:a1e0::1/128", "fd7a:115c:a1e0::2/128"])
        #expect(db.rules[1].sources.contains(Fixture.carol.ipv4!))
    }

    @Test func everyoneRulesMakeEveryoneVisible() throws {
        let p = try Fixture.policy("""
        {"tagOwners": {"tag:web": []}, "acls": [{"action": "accept", "src": ["*"], "dst": ["tag:web:443"]}]}
        """)
        let compiled = p.compile()
        // web, reached by everyone, holds the shared list of every node (itself included).
        #expect(compiled.filters[Fixture.web.id]?.visiblePeers == [1, 2, 3, 4, 5])
        #expect(compiled.filters[Fixture.web.id]?.visiblePeers.filter { $0 != Fixture.web.id } == [1, 2, 3, 4])
        #expect(compiled.filters[Fixture.carol.id]?.visiblePeers == [5])
        #expect(compiled.filters[Fixture.web.id]?.rules.first?.sources == AddressSet.everything)
    }

    @Test func changedNodesAreThoseWhoseFilterDiffers() throws {
        let before = try Fixture.policy().compile()
        // Carol joins the developers: db gains a source and a peer, carol a peer; web is unchanged.
        let afterText = Fixture.policyText
            .replacingOccurrences(of: #""group:dev": ["alice@", "bob"]"#, with: #""group:dev": ["alice@", "bob", "carol"]"#)
            .replacingOccurrences(of: #""accept": ["tag:web:80"], "deny": ["tag:db:5432"]"#,
                                  with: #""accept": ["tag:web:80", "tag:db:5432"]"#)
        let after = try Fixture.policy(afterText).compile()
        #expect(PolicyCompilation.changedNodes(from: before, to: after) == [Fixture.db.id, Fixture.carol.id])
        #expect(PolicyCompilation.changedNodes(from: before, to: before).isEmpty)
        // A node retagged from web to db (a policy without tests, which name tag:web).
        let untested = String(Fixture.policyText[..<Fixture.policyText.range(of: "  \"tests\"")!.lowerBound]) + "}"
        var nodes = Fixture.directory.nodes
        nodes[4].tags = ["tag:db"]
        let plain = try Fixture.policy(untested).compile()
        let retagged = try Fixture.policy(untested, directory: PolicyDirectory(nodes: nodes, users: ["dave"])).compile()
        #expect(PolicyCompilation.changedNodes(from: plain, to: retagged) == [Fixture.web.id, Fixture.carol.id])
        // New and removed nodes count as changed.
        let grown = try Fixture.policy(directory: PolicyDirectory(nodes: Fixture.directory.nodes + [Fixture.aliceDesktop])).compile()
        #expect(PolicyCompilation.changedNodes(from: before, to: grown).contains(Fixture.aliceDesktop.id))
        #expect(PolicyCompilation.changedNodes(from: before, to: nil) == Set(before.filters.keys))
    }

    /// Many nodes in one group: each db host's rule has a handful of prefixes, not one per
    /// member, and compile time grows about linearly (printed: the suite asserts only sizes).
    @Test func largeGroupsStayCompact() throws {
        func mesh(_ members: Int) -> (PolicyDirectory, String) {
            var nodes: [PolicyNode] = []
            for i in 0..<members {
                nodes.append(PolicyNode(id: Int64(i + 1), name: "dev\(i)", user: "dev\(i)",
                                        ipv4: .v4(0x6440_0000 + UInt32(i) + 256), ipv6: Fixture.v6(UInt64(i) + 256)))
            }
            for j in 0..<10 {
                nodes.append(PolicyNode(id: Int64(100_000 + j), name: "db\(j)", user: nil, tags: ["tag:db"],
                                        ipv4: .v4(0x6440_0000 + UInt32(j) + 2), ipv6: Fixture.v6(UInt64(j) + 2)))
            }
            let users = (0..<members).map { "\"dev\($0)\"" }.joined(separator: ",")
            let text = """
            {"groups": {"group:dev": [\(users)]}, "tagOwners": {"tag:db": []},
             "acls": [{"action": "accept", "src": ["group:dev"], "dst": ["tag:db:5432"]},
                      {"action": "accept", "src": ["autogroup:member"], "dst": ["tag:db:443"]}]}
            """
            return (PolicyDirectory(nodes: nodes), text)
        }
        var timings: [String] = []
        for members in [1_000, 4_000] {
            let (dir, text) = mesh(members)
            let clock = ContinuousClock()
            let start = clock.now
            let compiled = try Policy.load(text, directory: dir).compile()
            let elapsed = clock.now - start
            timings.append("\(members) members: \(elapsed)")
            let db = try #require(compiled.filters[100_000])
            #expect(db.rules.count == 2)
            // 256...(256+members-1) as aligned blocks: at most 2·log2 prefixes per family.
            #expect(db.rules.allSatisfy { $0.sources.prefixes.count <= 2 * 2 * 13 })
            #expect(db.visiblePeers.count == members)
            #expect(compiled.filters[1]?.visiblePeers.count == 10)
            #expect(compiled.filters[1]?.rules.isEmpty == true)
        }
        print("MeshPolicy compile (group → 10 tagged hosts): " + timings.joined(separator: "; "))
    }
}
