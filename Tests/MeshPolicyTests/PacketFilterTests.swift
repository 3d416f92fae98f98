import CAllocationCounter
import MeshBase
import MeshPolicy
import Testing

@Suite struct PacketFilterTests {
    let alice4 = Fixture.alice.ipv4!, alice6 = Fixture.alice.ipv6!
    let bob4 = Fixture.bob.ipv4!
    let carol4 = Fixture.carol.ipv4!, carol6 = Fixture.carol.ipv6!
    let db4 = Fixture.db.ipv4!, db6 = Fixture.db.ipv6!

    func rules(of node: PolicyNode, _ text: String = Fixture.policyText) throws -> [FilterRule] {
        let compiled = try Fixture.policy(text).compile()
        return try #require(compiled.filters[node.id]).rules
    }

    func filter(of node: PolicyNode, _ configuration: PacketFilter.Configuration = .init()) throws -> PacketFilter {
        PacketFilter(configuration: configuration, rules: try rules(of: node))
    }

    @Test func allowedConnectionsPassOverBothFamilies() throws {
        var db = try filter(of: Fixture.db)
        for (a, d) in [(alice4, db4), (alice6, db6)] {
            #expect(db.inbound(TestPacket.syn(a, d, 40000, 5432)) == .accept)
            db.outbound(TestPacket.tcp(d, a, 5432, 40000, flags: PacketHeaders.tcpSYN | PacketHeaders.tcpACK))
            #expect(db.inbound(TestPacket.ackSegment(a, d, 40000, 5432)) == .accept)
            #expect(db.inbound(TestPacket.tcp(a, d, 40000, 5432, flags: PacketHeaders.tcpFIN | PacketHeaders.tcpACK)) == .accept)
        }
        #expect(db.counters.accepted == 6 && db.counters.flowsOpened == 2 && db.flowCount == 2)
        #expect(db.counters.dropped.values.allSatisfy { $0 == 0 })
    }

    @Test func aRefusedConnectionIsAnsweredWithAReset() throws {
        var db = try filter(of: Fixture.db)
        for (c, d) in [(carol4, db4), (carol6, db6)] {
            let syn = TestPacket.tcp(c, d, 41000, 5432, flags: PacketHeaders.tcpSYN, seq: 0xFFFF_FFFF)
            let decision = db.inbound(syn)
            #expect(decision.dropReason == .acl)
            let reply = try #require(decision.reply)
            #expect(TestPacket.checksumsVerify(reply))
            let r = try #require(PacketHeaders.of(reply))
            #expect(r.source == d && r.destination == c && r.sourcePort == 5432 && r.destinationPort == 41000)
            #expect(r.tcpFlags == PacketHeaders.tcpRST | PacketHeaders.tcpACK)
            #expect(r.tcpSequence == 0 && r.tcpAcknowledgment == 0)  // the SYN's sequence number + 1, wrapped
        }
        #expect(db.counters.acl == 2 && db.counters.rejectsSent == 2 && db.flowCount == 0)
        // Another port of the database host, from a developer: refused too.
        #expect(db.inbound(TestPacket.syn(alice4, db4, 40001, 22)).dropReason == .acl)
    }

    @Test func aRefusedConnectionMayBeAnsweredWithICMPProhibited() throws {
        var db = try filter(of: Fixture.db, .init(rejectTCPWithReset: false))
        for (c, d) in [(carol4, db4), (carol6, db6)] {
            let syn = TestPacket.syn(c, d, 41000, 5432)
            let reply = try #require(db.inbound(syn).reply)
            #expect(TestPacket.checksumsVerify(reply))
            let r = try #require(PacketHeaders.of(reply))
            #expect(r.source == d && r.destination == c && r.isICMPError)
            #expect(d.isV4 ? (r.icmpType == 3 && r.icmpCode == 13) : (r.icmpType == 1 && r.icmpCode == 1))
            // It quotes the IP header and the first 8 bytes of TCP, nothing more.
            let header = d.isV4 ? 20 : 40
            #expect(Array(reply[(header + 8)...]) == Array(syn[0..<(header + 8)]))
            #expect(r.quoted?.sourcePort == 41000 && r.quoted?.destinationPort == 5432)
        }
    }

    @Test func repliesToOurOwnConnectionsPassAndNothingElse() throws {
        // Nobody may open connections to alice's laptop.
        var alice = try filter(of: Fixture.alice)
        #expect(alice.rules == [])
        alice.outbound(TestPacket.syn(alice4, db4, 40000, 5432))
        #expect(alice.inbound(TestPacket.tcp(db4, alice4, 5432, 40000, flags: PacketHeaders.tcpSYN | PacketHeaders.tcpACK)) == .accept)
        #expect(alice.inbound(TestPacket.ackSegment(db4, alice4, 5432, 40000)) == .accept)
        // The database host cannot open connections back, on any port, over either family.
        #expect(alice.inbound(TestPacket.syn(db4, alice4, 5432, 22)).dropReason == .acl)
        #expect(alice.inbound(TestPacket.syn(Fixture.db.ipv6!, alice6, 5432, 40000)).dropReason == .acl)
        // A segment of no connection is refused and reset (the RST acknowledges it).
        let stray = alice.inbound(TestPacket.ackSegment(db4, alice4, 5432, 40001))
        #expect(stray.dropReason == .noFlow)
        let strayReply = try #require(stray.reply)
        let rst = try #require(PacketHeaders.of(strayReply))
        #expect(rst.tcpFlags == PacketHeaders.tcpRST && rst.tcpSequence == 7000)
        // A RST of no connection is dropped without an answer.
        #expect(alice.inbound(TestPacket.tcp(db4, alice4, 5432, 40001, flags: PacketHeaders.tcpRST)) == .drop(.noFlow))
        #expect(alice.counters.acl == 2 && alice.counters.noFlow == 2)
    }

    @Test func datagramAndEchoFlows() throws {
        var alice = try filter(of: Fixture.alice)
        alice.outbound(TestPacket.udp(alice4, db4, 33000, 53))
        #expect(alice.inbound(TestPacket.udp(db4, alice4, 53, 33000)) == .accept)
        let other = alice.inbound(TestPacket.udp(db4, alice4, 53, 33001))
        #expect(other.dropReason == .acl)
        let otherReply = try #require(other.reply)
        #expect(PacketHeaders.of(otherReply)?.icmpType == 3)
        // Echo: replies to our pings, not unsolicited replies, not the peer's pings.
        alice.outbound(TestPacket.echo(alice6, db6, request: true, id: 7))
        #expect(alice.inbound(TestPacket.echo(db6, alice6, request: false, id: 7)) == .accept)
        #expect(alice.inbound(TestPacket.echo(db6, alice6, request: false, id: 8)) == .drop(.noFlow))
        #expect(alice.inbound(TestPacket.echo(db6, alice6, request: true, id: 9)).dropReason == .acl)
        // A peer reusing our ping's identifier for its own ping gains nothing.
        #expect(alice.inbound(TestPacket.echo(db6, alice6, request: true, id: 7)).dropReason == .acl)

        // Web accepts pings from members (the rule's protocols include ICMP) and answers them.
        var web = try filter(of: Fixture.web)
        let web4 = Fixture.web.ipv4!
        #expect(web.inbound(TestPacket.echo(carol4, web4, request: true, id: 1)) == .accept)
        web.outbound(TestPacket.echo(web4, carol4, request: false, id: 1))
        #expect(web.inbound(TestPacket.echo(carol4, web4, request: true, id: 1, seq: 2)) == .accept)
        #expect(web.inbound(TestPacket.echo(Fixture.db.ipv4!, web4, request: true, id: 1)).dropReason == .acl)
    }

    @Test func icmpErrorsPassOnlyAboutOurFlows() throws {
        var alice = try filter(of: Fixture.alice)
        let sent = TestPacket.udp(alice4, db4, 33000, 53)
        alice.outbound(sent)
        #expect(alice.inbound(TestPacket.unreachable(db4, alice4, quoting: sent)) == .accept)
        let ping = TestPacket.echo(alice4, db4, request: true, id: 3)
        alice.outbound(ping)
        #expect(alice.inbound(TestPacket.unreachable(db4, alice4, quoting: ping)) == .accept)
        // About a packet alice never sent, or one she did not send (quoted source not hers).
        #expect(alice.inbound(TestPacket.unreachable(db4, alice4, quoting: TestPacket.udp(alice4, db4, 33001, 53))) == .drop(.noFlow))
        #expect(alice.inbound(TestPacket.unreachable(db4, alice4, quoting: TestPacket.udp(carol4, db4, 33000, 53))) == .drop(.noFlow))
        // ICMP errors are never answered.
        #expect(alice.counters.rejectsSent == 0)
    }

    @Test func segmentsWithoutAFlowAreJudgedByTheRules() throws {
        // An established connection the filter never saw open (evicted, or older than the
        // filter): allowed ones go on and are tracked again, others are reset.
        var db = try filter(of: Fixture.db)
        #expect(db.inbound(TestPacket.ackSegment(alice4, db4, 40000, 5432)) == .accept)
        #expect(db.flowCount == 1)
        let refused = db.inbound(TestPacket.ackSegment(carol4, db4, 41000, 5432))
        #expect(refused.dropReason == .noFlow && refused.reply != nil)
        // An allowed RST passes but opens nothing.
        #expect(db.inbound(TestPacket.tcp(bob4, db4, 40000, 5432, flags: PacketHeaders.tcpRST)) == .accept)
        #expect(db.flowCount == 1)
    }

    @Test func aPolicyChangeCutsEstablishedFlowsItNoLongerAllows() throws {
        var db = try filter(of: Fixture.db)
        let open = try rules(of: Fixture.db)
        #expect(db.inbound(TestPacket.syn(alice4, db4, 40000, 5432)) == .accept)
        #expect(db.inbound(TestPacket.syn(bob4, db4, 40000, 5432)) == .accept)
        #expect(db.inbound(TestPacket.udp(alice4, db4, 5000, 5432)) == .accept)
        // db's own connection to alice (alice's filter judges it, not db's).
        db.outbound(TestPacket.syn(db4, alice4, 50000, 22))
        // Alice leaves the developers.
        let bobOnly = try rules(of: Fixture.db, """
        {"groups": {"group:dev": ["bob"]}, "tagOwners": {"tag:db": []},
         "acls": [{"action": "accept", "src": ["group:dev"], "dst": ["tag:db:5432"]}]}
        """)
        db.setRules(bobOnly)
        #expect(db.counters.flowsCut == 2)
        let cut = db.inbound(TestPacket.ackSegment(alice4, db4, 40000, 5432), at: 1)
        #expect(cut.dropReason == .flowCut)
        let cutReply = try #require(cut.reply)
        #expect(PacketHeaders.of(cutReply)?.tcpFlags == PacketHeaders.tcpRST)
        #expect(db.inbound(TestPacket.udp(alice4, db4, 5000, 5432), at: 1).dropReason == .flowCut)
        // Our own answers do not reopen a cut flow.
        db.outbound(TestPacket.udp(db4, alice4, 5432, 5000), at: 1)
        #expect(db.inbound(TestPacket.udp(alice4, db4, 5000, 5432), at: 1).dropReason == .flowCut)
        // Nor does alice opening it again.
        #expect(db.inbound(TestPacket.syn(alice4, db4, 40002, 5432), at: 1).dropReason == .acl)
        #expect(db.inbound(TestPacket.ackSegment(bob4, db4, 40000, 5432), at: 1) == .accept)
        #expect(db.inbound(TestPacket.tcp(alice4, db4, 22, 50000, flags: PacketHeaders.tcpSYN | PacketHeaders.tcpACK), at: 1) == .accept)
        // Allowed again: the cut flows are restored.
        db.setRules(open)
        #expect(db.inbound(TestPacket.ackSegment(alice4, db4, 40000, 5432), at: 2) == .accept)
        #expect(db.counters.flowCut == 3)
    }

    @Test func withoutAPolicyEverythingPassesAndAPolicyLaterJudgesIt() throws {
        var db = PacketFilter()
        #expect(db.inbound(TestPacket.syn(carol4, db4, 41000, 22)) == .accept)
        #expect(db.inbound(TestPacket.ackSegment(carol4, db4, 41001, 22)) == .accept)
        #expect(db.inbound(TestPacket.udp(carol4, db4, 1, 2)) == .accept)
        #expect(db.inbound(TestPacket.echo(carol4, db4, request: false, id: 1)) == .accept)
        #expect(db.counters.accepted == 4)
        db.setRules(try rules(of: Fixture.db))
        #expect(db.counters.flowsCut == 2)  // the SYN's connection and the datagram's
        #expect(db.inbound(TestPacket.ackSegment(carol4, db4, 41000, 22)).dropReason == .flowCut)
        #expect(db.inbound(TestPacket.ackSegment(carol4, db4, 41001, 22)).dropReason == .noFlow)
        db.setRules(nil)
        #expect(db.inbound(TestPacket.ackSegment(carol4, db4, 41000, 22)) == .accept)
    }

    @Test func laterFragmentsPassAndMalformedPacketsAreCounted() throws {
        var db = try filter(of: Fixture.db)
        let fragment = TestPacket.ip(carol4, db4, proto: 6, transport: [1, 2, 3, 4], checksumAt: nil, fragmentOffset: 10)
        #expect(db.inbound(fragment) == .accept)
        #expect(db.inbound([0x45, 0, 0]) == .drop(.malformed))
        #expect(db.counters.acceptedFragments == 1 && db.counters.malformed == 1)
    }

    @Test func idleFlowsAgeOut() throws {
        var alice = try filter(of: Fixture.alice, .init(udpIdle: .seconds(30)))
        alice.outbound(TestPacket.udp(alice4, db4, 33000, 53), at: 0)
        #expect(alice.inbound(TestPacket.udp(db4, alice4, 53, 33000), at: 30) == .accept)
        #expect(alice.inbound(TestPacket.udp(db4, alice4, 53, 33000), at: 60) == .accept)  // refreshed at 30
        #expect(alice.inbound(TestPacket.udp(db4, alice4, 53, 33000), at: 91).dropReason == .acl)
        #expect(alice.flowCount == 0)
    }

    @Test func rejectsAreRateLimited() throws {
        var db = try filter(of: Fixture.db, .init(rejectsPerSecond: 10, rejectBurst: 5))
        var sent = 0
        for i in 0..<20 where db.inbound(TestPacket.syn(carol4, db4, UInt16(1000 + i), 5432)).reply != nil { sent += 1 }
        #expect(sent == 5)
        #expect(db.counters.acl == 20 && db.counters.rejectsSent == 5 && db.counters.rejectsSuppressed == 15)
        // A second later the budget has refilled by the rate.
        sent = 0
        for i in 0..<20 where db.inbound(TestPacket.syn(carol4, db4, UInt16(2000 + i), 5432), at: 1).reply != nil { sent += 1 }
        #expect(sent == 5)
    }

    @Test func groupAddressedPacketsAreNeverAnswered() throws {
        var db = try filter(of: Fixture.db)
        let multicast = IPAddress.v6(high: 0xFF02_0000_0000_0000, low: 1)
        #expect(db.inbound(TestPacket.udp(carol6, multicast, 5353, 5353)) == .drop(.acl))
        #expect(db.inbound(TestPacket.udp(carol4, .v4(0xFFFF_FFFF), 67, 68)) == .drop(.acl))
        #expect(db.counters.rejectsSent == 0)
    }

    @Test func aPeerFloodingFlowsCannotEvictOurConnections() throws {
        // web takes UDP from every member on any port; carol floods new flows.
        let text = """
        {"tagOwners": {"tag:web": []},
         "acls": [{"action": "accept", "src": ["autogroup:member"], "dst": ["tag:web:*"], "proto": "udp"}]}
        """
        var web = PacketFilter(configuration: .init(maxInboundFlows: 256, maxOutboundFlows: 64), rules: try rules(of: Fixture.web, text))
        let web4 = Fixture.web.ipv4!
        web.outbound(TestPacket.syn(web4, db4, 50000, 5432))
        for port in 0..<5_000 { #expect(web.inbound(TestPacket.udp(carol4, web4, UInt16(port), 9)) == .accept) }
        #expect(web.flowCount == 257 && web.counters.flowsEvicted == 5_000 - 256)
        #expect(web.inbound(TestPacket.tcp(db4, web4, 5432, 50000, flags: PacketHeaders.tcpSYN | PacketHeaders.tcpACK)) == .accept)
        // Carol's evicted flows are still allowed by the rules: judged again, not dropped.
        #expect(web.inbound(TestPacket.udp(carol4, web4, 0, 9)) == .accept)
    }

    /// The accept path, drops without a reply and `outbound` allocate nothing; the figures
    /// (ns per packet with a 100-rule filter) are printed, the suite asserts only allocations.
    @Test func theFilterPathDoesNotAllocate() throws {
        // 100 rules for db: each from one other address to its own port; the traffic matches the last.
        var acls: [String] = []
        for i in 0..<100 { acls.append(#"{"action": "accept", "src": ["192.0.2.\#(i)"], "dst": ["tag:db:\#(10_000 + i)"]}"#) }
        let text = #"{"tagOwners": {"tag:db": []}, "acls": [\#(acls.joined(separator: ","))]}"#
        let rules = try rules(of: Fixture.db, text)
        #expect(rules.count == 100)
        var db = PacketFilter(rules: rules)
        let peer = IPAddress.v4(0xC000_0263)  // 192.0.2.99
        let n = 20_000
        let established = TestPacket.ackSegment(peer, db4, 40000, 10_099, payload: 1200)
        let answer = TestPacket.ackSegment(db4, peer, 10_099, 40000, payload: 1200)
        // Two rounds (warm-up, measured) of n new flows each, on distinct source ports.
        let newFlows = (0..<2 * n).map { TestPacket.udp(peer, db4, UInt16(truncatingIfNeeded: $0), 10_099) }
        let refusedResets = (0..<64).map { TestPacket.tcp(carol4, db4, UInt16($0), 5432, flags: PacketHeaders.tcpRST) }
        #expect(db.inbound(TestPacket.syn(peer, db4, 40000, 10_099)) == .accept)

        /// Runs `body(0)` to warm up, then measures `body(1)`: allocations on this thread and
        /// nanoseconds per packet.
        func measure(_ body: (Int) -> Void) -> (allocations: UInt64, nanoseconds: Int) {
            body(0)
            let clock = ContinuousClock()
            let a0 = mesh_allocations_this_thread()
            let t0 = clock.now
            body(1)
            let elapsed = clock.now - t0
            let allocations = mesh_allocations_this_thread() - a0
            return (allocations, Int(elapsed.nanoseconds) / n)
        }
        var accepted = 0
        let fast = measure { _ in
            established.withUnsafeBytes { p in
                for i in 0..<n where db.inbound(p, now: MonotonicTime(nanoseconds: Int64(i))) == .accept { accepted += 1 }
            }
        }
        let out = measure { _ in
            answer.withUnsafeBytes { p in for i in 0..<n { db.outbound(p, now: MonotonicTime(nanoseconds: Int64(i))) } }
        }
        var opened = 0
        let judged = measure { round in
            // Every packet is a new flow (the table of 8,192 evicts): a scan of 100 rules each time.
            for i in (round * n)..<((round + 1) * n) {
                if newFlows[i].withUnsafeBytes({ db.inbound($0, now: MonotonicTime(nanoseconds: Int64(i))) }) == .accept { opened += 1 }
            }
        }
        let dropped = measure { _ in
            for i in 0..<n {
                _ = refusedResets[i & 63].withUnsafeBytes { db.inbound($0, now: MonotonicTime(nanoseconds: Int64(i))) }
            }
        }
        #expect(accepted == 2 * n && opened == 2 * n)
        #expect(fast.allocations == 0, "established flow: \(fast.allocations) allocations")
        #expect(out.allocations == 0, "outbound: \(out.allocations) allocations")
        #expect(judged.allocations == 0, "new flows: \(judged.allocations) allocations")
        #expect(dropped.allocations == 0, "drops: \(dropped.allocations) allocations")
        print("PacketFilter, 100 rules: established \(fast.nanoseconds) ns/packet, outbound \(out.nanoseconds) ns/packet, "
              + "new flow (scan of 100 rules) \(judged.nanoseconds) ns/packet, refused RST \(dropped.nanoseconds) ns/packet")
    }

    // MARK: the first policy (meshd without a policy judges nothing and records only our TCP starts)

    /// What the data plane does with a packet read from the TUN while no policy is enforced:
    /// only a connection start (`OutboundConnectionStart`) reaches the filter.
    func noteWithoutPolicy(_ f: inout PacketFilter, _ packet: [UInt8], at seconds: Int64 = 0) {
        if packet.withUnsafeBytes({ OutboundConnectionStart.isTCPOpen($0) }) { f.outbound(packet, at: seconds) }
    }

    @Test func theFirstPolicyLetsRepliesToConnectionsWeOpenedBeforeItPass() throws {
        var alice = PacketFilter()
        let web4 = Fixture.web.ipv4!, web6 = Fixture.web.ipv6!
        for (a, w) in [(alice4, web4), (alice6, web6)] {
            noteWithoutPolicy(&alice, TestPacket.syn(a, w, 40000, 80))
            // The rest of the connection, both ways, while no policy is set: nothing recorded.
            noteWithoutPolicy(&alice, TestPacket.ackSegment(a, w, 40000, 80))
        }
        #expect(alice.flowCount == 2)
        // The first policy: nobody may open connections to alice's laptop.
        alice.setRules(try rules(of: Fixture.alice))
        for (a, w) in [(alice4, web4), (alice6, web6)] {
            #expect(alice.inbound(TestPacket.ackSegment(w, a, 80, 40000), at: 2) == .accept)
            // Another port of ours, never opened by us: refused.
            #expect(alice.inbound(TestPacket.ackSegment(w, a, 80, 40001), at: 2).dropReason == .noFlow)
        }
        #expect(alice.counters.accepted == 2 && alice.counters.noFlow == 2)
    }

    @Test func anInboundConnectionFromBeforeTheFirstPolicyThatItRefusesIsDropped() throws {
        var alice = PacketFilter()
        // Carol's connection to alice's ssh, opened while no policy was set: alice's answers
        // (SYN-ACK, data) are no connection starts and record nothing.
        noteWithoutPolicy(&alice, TestPacket.tcp(alice4, carol4, 22, 41000, flags: PacketHeaders.tcpSYN | PacketHeaders.tcpACK))
        noteWithoutPolicy(&alice, TestPacket.ackSegment(alice4, carol4, 22, 41000))
        #expect(alice.flowCount == 0)
        alice.setRules(try rules(of: Fixture.alice))
        let next = alice.inbound(TestPacket.ackSegment(carol4, alice4, 41000, 22), at: 1)
        #expect(next.dropReason == .noFlow)
        #expect(next.reply.flatMap { PacketHeaders.of($0)?.tcpFlags } == PacketHeaders.tcpRST)
        // Alice's own packets on it (with a policy every one reaches the filter) do not revive it.
        alice.outbound(TestPacket.ackSegment(alice4, carol4, 22, 41000), at: 1)
        #expect(alice.inbound(TestPacket.ackSegment(carol4, alice4, 41000, 22), at: 1).dropReason == .noFlow)
        #expect(alice.flowCount == 0)
    }

    @Test func theCutStillHoldsForFlowsFromBeforeTheFirstPolicy() throws {
        var db = PacketFilter()
        // Alice's connection to the database, opened with no policy; db's own connection out.
        noteWithoutPolicy(&db, TestPacket.tcp(db4, alice4, 5432, 40000, flags: PacketHeaders.tcpSYN | PacketHeaders.tcpACK))
        noteWithoutPolicy(&db, TestPacket.syn(db4, alice4, 50000, 443))
        db.setRules(try rules(of: Fixture.db))
        // Allowed by the first policy: it passes and is tracked again as alice's.
        #expect(db.inbound(TestPacket.ackSegment(alice4, db4, 40000, 5432), at: 1) == .accept)
        // Alice leaves the developers: the flow is cut, db's answers do not reopen it.
        db.setRules(try rules(of: Fixture.db, """
        {"groups": {"group:dev": ["bob"]}, "tagOwners": {"tag:db": []},
         "acls": [{"action": "accept", "src": ["group:dev"], "dst": ["tag:db:5432"]}]}
        """))
        #expect(db.counters.flowsCut == 1)
        #expect(db.inbound(TestPacket.ackSegment(alice4, db4, 40000, 5432), at: 2).dropReason == .flowCut)
        db.outbound(TestPacket.ackSegment(db4, alice4, 5432, 40000), at: 2)
        #expect(db.inbound(TestPacket.ackSegment(alice4, db4, 40000, 5432), at: 2).dropReason == .flowCut)
        // db's own connection, recorded before any policy, still gets its replies.
        #expect(db.inbound(TestPacket.tcp(alice4, db4, 443, 50000, flags: PacketHeaders.tcpSYN | PacketHeaders.tcpACK), at: 2) == .accept)
    }
}
