import MeshBase
import MeshDNS
import Testing

@Suite struct DNSForwardTableTests {
    static let up1 = DNSUpstream(address: try! IPAddress("203.0.113.53"))
    static let up2 = DNSUpstream(address: try! IPAddress("2001:db8::53"))
    static let t0 = MonotonicTime(nanoseconds: 1_000_000_000)

    static func query(id: UInt16, name: String = "coord.lab.test") -> ([UInt8], DNSQuery) {
        var q: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 0]
        q += DNSName(name)!.wire + [0, 1, 0, 1]
        return (q, try! DNSQuery.parse(q))
    }

    /// What an upstream answers to `sent`: the same header with QR and RA, one A record.
    static func answer(to sent: [UInt8]) -> [UInt8] {
        var a = sent
        a[2] |= 0x80; a[3] |= 0x80
        a[7] = 1
        return a + [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 100]
    }

    static func sent(_ action: DNSForwardTable<Int>.Action) -> ([UInt8], DNSUpstream)? {
        if case .send(let b, let u) = action { return (b, u) }
        return nil
    }

    @Test func forwardsUnderAFreshIDAndMapsTheAnswerBack() throws {
        var table = DNSForwardTable<Int>(upstreams: [Self.up1, Self.up2])
        var entropy = SeededEntropy(seed: 7)
        let (q, parsed) = Self.query(id: 0xABCD)
        let (action, outcome) = table.forward(q, query: parsed, from: 42, overTCP: false, now: Self.t0, entropy: &entropy)
        #expect(outcome == .forwarded)
        let (out, upstream) = try #require(Self.sent(action))
        #expect(upstream == Self.up1)
        #expect(Array(out[2...]) == Array(q[2...]))
        let sentID = UInt16(out[0]) << 8 | UInt16(out[1])
        #expect(sentID != 0xABCD)
        #expect(table.inFlight == 1)

        // From another address, or with another question: ignored, the query still waits.
        #expect(table.receive(Self.answer(to: out), from: Self.up2) == nil)
        #expect(table.receive(Self.answer(to: out), from: DNSUpstream(address: Self.up1.address, port: 5353)) == nil)
        var otherQuestion = Self.answer(to: Self.query(id: sentID, name: "evil.lab.test").0)
        otherQuestion[0] = out[0]; otherQuestion[1] = out[1]
        #expect(table.receive(otherQuestion, from: Self.up1) == nil)
        // A query (QR clear) with the right ID is no answer either.
        #expect(table.receive(out, from: Self.up1) == nil)
        #expect(table.inFlight == 1)

        guard case .reply(let back, let client, let overTCP)? = table.receive(Self.answer(to: out), from: Self.up1) else {
            Issue.record("no reply"); return
        }
        #expect(client == 42 && !overTCP)
        #expect(back[0] == 0xAB && back[1] == 0xCD)
        #expect(Array(back[2...]) == Array(Self.answer(to: q)[2...]))
        #expect(table.inFlight == 0)
        // The same answer again (a duplicate): nobody is waiting for it.
        #expect(table.receive(Self.answer(to: out), from: Self.up1) == nil)
    }

    @Test func twoClientsWithTheSameIDGetTheirOwnAnswers() throws {
        var table = DNSForwardTable<Int>(upstreams: [Self.up1])
        var entropy = SeededEntropy(seed: 1)
        let (q1, p1) = Self.query(id: 7, name: "one.lab.test")
        let (q2, p2) = Self.query(id: 7, name: "two.lab.test")
        let s1 = try #require(Self.sent(table.forward(q1, query: p1, from: 1, overTCP: false, now: Self.t0, entropy: &entropy).0))
        let s2 = try #require(Self.sent(table.forward(q2, query: p2, from: 2, overTCP: true, now: Self.t0, entropy: &entropy).0))
        #expect(s1.0[0...1] != s2.0[0...1])
        guard case .reply(_, let c2, let tcp2)? = table.receive(Self.answer(to: s2.0), from: Self.up1),
              case .reply(_, let c1, let tcp1)? = table.receive(Self.answer(to: s1.0), from: Self.up1) else {
            Issue.record("missing reply"); return
        }
        #expect(c1 == 1 && !tcp1 && c2 == 2 && tcp2)
    }

    @Test func timeoutTriesTheNextUpstreamThenServFail() throws {
        var table = DNSForwardTable<Int>(upstreams: [Self.up1, Self.up2], timeout: .seconds(2))
        var entropy = SeededEntropy(seed: 3)
        let (q, parsed) = Self.query(id: 0x0102)
        let first = try #require(Self.sent(table.forward(q, query: parsed, from: 5, overTCP: false, now: Self.t0, entropy: &entropy).0))
        #expect(table.expire(now: Self.t0 + .milliseconds(1999), entropy: &entropy).isEmpty)
        let retries = table.expire(now: Self.t0 + .seconds(2), entropy: &entropy)
        #expect(retries.count == 1 && retries.first?.1 == .forwarded)
        let second = try #require(retries.first.flatMap { Self.sent($0.0) })
        #expect(second.1 == Self.up2)
        #expect(second.0[0...1] != first.0[0...1])
        // The first upstream's late answer no longer counts.
        #expect(table.receive(Self.answer(to: first.0), from: Self.up1) == nil)
        let failed = table.expire(now: Self.t0 + .seconds(4), entropy: &entropy)
        guard failed.count == 1, case .reply(let b, let client, _) = failed[0].0 else { Issue.record(); return }
        #expect(failed[0].1 == .failedAfterTimeouts)
        #expect(client == 5)
        #expect(b[0] == 0x01 && b[1] == 0x02)
        #expect(b[2] & 0x80 != 0 && b[3] & 0x0F == 2)  // QR, SERVFAIL
        #expect(b[2] & 0x04 == 0)  // not authoritative
        #expect(table.inFlight == 0)
    }

    @Test func truncatedAnswerForATCPClientIsAskedAgainOverTCP() throws {
        var table = DNSForwardTable<Int>(upstreams: [Self.up1])
        var entropy = SeededEntropy(seed: 11)
        let (q, parsed) = Self.query(id: 0x4444)
        let sent = try #require(Self.sent(table.forward(q, query: parsed, from: 9, overTCP: true, now: Self.t0, entropy: &entropy).0))
        var truncated = Self.answer(to: sent.0)
        truncated[2] |= 0x02
        guard case .retryOverTCP(let query, let p, let upstream, let client)? = table.receive(truncated, from: Self.up1) else {
            Issue.record("no TCP retry"); return
        }
        #expect(query == q && p == parsed && upstream == Self.up1 && client == 9)
        #expect(table.inFlight == 0)
        // What comes back over TCP must answer that query: a response, its ID, its question.
        #expect(DNSForwardTable<Int>.isAnswer(Self.answer(to: q), to: parsed))
        #expect(!DNSForwardTable<Int>.isAnswer(q, to: parsed))
        #expect(!DNSForwardTable<Int>.isAnswer(Self.answer(to: Self.query(id: 0x4445).0), to: parsed))
        #expect(!DNSForwardTable<Int>.isAnswer(Self.answer(to: Self.query(id: 0x4444, name: "x.lab.test").0), to: parsed))
        // A UDP client gets the truncated answer as it is (it retries over TCP itself).
        let (q2, p2) = Self.query(id: 0x5555)
        let sent2 = try #require(Self.sent(table.forward(q2, query: p2, from: 1, overTCP: false, now: Self.t0, entropy: &entropy).0))
        var truncated2 = Self.answer(to: sent2.0)
        truncated2[2] |= 0x02
        guard case .reply(let b, _, false)? = table.receive(truncated2, from: Self.up1) else { Issue.record(); return }
        #expect(b[2] & 0x02 != 0 && b[0] == 0x55)
    }

    @Test func boundedTableRefusesNewQueriesWithServFail() {
        var table = DNSForwardTable<Int>(upstreams: [Self.up1], capacity: 256)
        var entropy = SeededEntropy(seed: 9)
        var forwarded = 0
        for i in 0..<300 {
            let (q, parsed) = Self.query(id: UInt16(i))
            let (action, outcome) = table.forward(q, query: parsed, from: i, overTCP: false, now: Self.t0, entropy: &entropy)
            if outcome == .forwarded { forwarded += 1; continue }
            #expect(outcome == .refusedFull)
            guard case .reply(let b, let c, _) = action else { Issue.record(); return }
            #expect(c == i && b[3] & 0x0F == 2)
        }
        #expect(forwarded == 256)
        #expect(table.inFlight == 256)
    }

    @Test func noUpstreamOrOversizedQueryIsServFail() {
        var empty = DNSForwardTable<Int>(upstreams: [])
        var entropy = SeededEntropy(seed: 2)
        let (q, parsed) = Self.query(id: 1)
        #expect(empty.forward(q, query: parsed, from: 0, overTCP: false, now: Self.t0, entropy: &entropy).1 == .noUpstream)
        var table = DNSForwardTable<Int>(upstreams: [Self.up1])
        let huge = q + [UInt8](repeating: 0, count: 5000)
        #expect(table.forward(huge, query: parsed, from: 0, overTCP: true, now: Self.t0, entropy: &entropy).1 == .noUpstream)
        #expect(table.inFlight == 0)
    }

    @Test func clientsThatLeaveAreForgotten() {
        var table = DNSForwardTable<Int>(upstreams: [Self.up1])
        var entropy = SeededEntropy(seed: 4)
        for i in 0..<10 {
            let (q, parsed) = Self.query(id: UInt16(i))
            _ = table.forward(q, query: parsed, from: i % 2, overTCP: true, now: Self.t0, entropy: &entropy)
        }
        table.removeAll { $0 == 1 }
        #expect(table.inFlight == 5)
    }
}

@Suite struct DNSUpstreamTests {
    @Test func upstreamsFromResolvConfWithoutOurselves() {
        let conf = ResolvConf(parsing: """
            nameserver 100.100.100.100
            nameserver 203.0.113.53
            nameserver fe80::1%eth0
            nameserver 127.0.0.53
            nameserver 203.0.113.53
            nameserver 0.0.0.0
            nameserver not-an-address
            nameserver 2001:db8::53
            """)
        let list = DNSUpstream.list(from: conf, excluding: [try! IPAddress("100.100.100.100")])
        #expect(list.map(\.description) == ["203.0.113.53:53", "127.0.0.53:53", "[2001:db8::53]:53"])
    }
}

@Suite struct DNSTCPFramerTests {
    @Test func splitsMessagesAcrossAndWithinReads() {
        var framer = DNSTCPFramer()
        let m1: [UInt8] = Array(1...20), m2: [UInt8] = Array(100...130)
        let stream = DNSTCPFramer.frame(m1)! + DNSTCPFramer.frame(m2)! + [0, 0] + DNSTCPFramer.frame(m1)!
        // One byte at a time.
        var got: [[UInt8]] = []
        for b in stream { got += framer.append([b]) }
        #expect(got == [m1, m2, m1])
        #expect(framer.bufferedCount == 0)
        // All at once.
        #expect(framer.append(stream) == [m1, m2, m1])
        // A partial message stays buffered, bounded by the largest message.
        #expect(framer.append([0xFF, 0xFF] + [UInt8](repeating: 1, count: 1000)).isEmpty)
        #expect(framer.bufferedCount == 1002)
        let done = framer.append([UInt8](repeating: 2, count: 65535 - 1000) + [0, 1, 9])
        #expect(done.count == 2 && done[0].count == 65535 && done[1] == [9])
        #expect(framer.bufferedCount <= DNSTCPFramer.maxBuffered)
        #expect(DNSTCPFramer.frame([UInt8](repeating: 0, count: 65536)) == nil)
    }
}

@Suite struct MagicDNSAddressTests {
    @Test func addressesAndSetting() throws {
        #expect(MagicDNSAddress.defaultIPv4.description == "100.100.100.100")
        #expect(MagicDNSAddress.ipv6(in: try IPPrefix("fd7a:115c:a1e0::/48"))?.description == "fd7a:115c:a1e0:53::53")
        #expect(MagicDNSAddress.ipv6(in: try IPPrefix("fd00:1:2:300::/56"))?.description == "fd00:1:2:353::53")
        #expect(MagicDNSAddress.ipv6(in: try IPPrefix("fd00:1:2:3::/64")) == nil)
        #expect(MagicDNSAddress.ipv6(in: try IPPrefix("100.64.0.0/10")) == nil)
        #expect(MagicDNSAddress.parseSetting("off") == .off)
        let a53 = try IPAddress("100.100.100.53")
        #expect(MagicDNSAddress.parseSetting("100.100.100.53") == .ipv4(a53))
        #expect(MagicDNSAddress.parseSetting("fd00::53") == nil)
        #expect(MagicDNSAddress.parseSetting("0.0.0.0") == nil)
        #expect(MagicDNSAddress.parseSetting("banana") == nil)
    }
}
