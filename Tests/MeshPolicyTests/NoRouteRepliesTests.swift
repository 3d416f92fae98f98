import MeshBase
import MeshPolicy
import Testing

@Suite struct NoRouteRepliesTests {
    let me4 = Fixture.v4(1), absent4 = Fixture.v4(9)
    let me6 = Fixture.v6(1), absent6 = Fixture.v6(9)
    let overlay = [try! IPPrefix("100.64.0.0/10"), try! IPPrefix("fd7a:115c:a1e0::/48")]

    func replies(_ perSecond: Int = 50, burst: Int = 50) -> NoRouteReplies {
        var r = NoRouteReplies(perSecond: perSecond, burst: burst)
        r.setOverlayPrefixes(overlay)
        return r
    }

    func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            out.append(UInt8(s[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    /// The expected bytes were computed by an independent implementation (Python: struct
    /// packing and an RFC 1071 checksum), for TestPacket.syn's SYN 40000 -> 5432 (seq 1000,
    /// window 65535).
    @Test func hostUnreachableMatchesAnIndependentVector() throws {
        var r = replies()
        let syn4 = TestPacket.syn(me4, absent4, 40000, 5432)
        #expect(syn4 == hex("45000028000000004006b24664400001644000099c401538000003e8000000005002ffff31f80000"))
        let reply4 = try #require(syn4.withUnsafeBytes { r.reply(to: $0, now: MonotonicTime(nanoseconds: 0)) })
        #expect(reply4 == hex("45000038000000004001b23b64400009644000010301479e0000000045000028000000004006b24664400001644000099c401538000003e8"))

        let syn6 = TestPacket.syn(me6, absent6, 40000, 5432)
        let reply6 = try #require(syn6.withUnsafeBytes { r.reply(to: $0, now: MonotonicTime(nanoseconds: 0)) })
        #expect(reply6 == hex("6000000000383a40fd7a115ca1e000000000000000000009fd7a115ca1e00000000000000000000101031fe300000000"
                              + "6000000000140640fd7a115ca1e000000000000000000001fd7a115ca1e0000000000000000000099c401538000003e8"))
        #expect(TestPacket.checksumsVerify(reply4) && TestPacket.checksumsVerify(reply6))
        let h6 = try #require(PacketHeaders.of(reply6))
        #expect(h6.icmpType == 1 && h6.icmpCode == 3 && h6.source == absent6 && h6.destination == me6)
        #expect(r.sent == 2)
    }

    @Test func answersConnectionStartsDatagramsAndEchoRequestsInsideTheOverlayOnly() throws {
        var r = replies()
        let now = MonotonicTime(nanoseconds: 0)
        func answered(_ p: [UInt8]) -> Bool { p.withUnsafeBytes { r.reply(to: $0, now: now) } != nil }
        for (me, absent) in [(me4, absent4), (me6, absent6)] {
            #expect(answered(TestPacket.syn(me, absent, 40000, 5432)))
            #expect(answered(TestPacket.udp(me, absent, 40000, 53)))
            #expect(answered(TestPacket.echo(me, absent, request: true, id: 1)))
            // Not: segments of a connection, resets, echo replies, ICMP errors.
            #expect(!answered(TestPacket.ackSegment(me, absent, 40000, 5432)))
            #expect(!answered(TestPacket.tcp(me, absent, 40000, 5432, flags: PacketHeaders.tcpRST)))
            #expect(!answered(TestPacket.echo(me, absent, request: false, id: 1)))
            #expect(!answered(TestPacket.unreachable(me, absent, quoting: TestPacket.udp(absent, me, 53, 40000))))
        }
        // Outside the overlay (the LAN, documentation space), multicast, a later fragment: never.
        #expect(!answered(TestPacket.syn(me4, .v4(0xC000_0201), 40000, 80)))
        #expect(!answered(TestPacket.syn(me6, .v6(high: 0x2001_0DB8_0000_0000, low: 1), 40000, 80)))
        #expect(!answered(TestPacket.udp(me6, .v6(high: 0xFF02_0000_0000_0000, low: 1), 5353, 5353)))
        #expect(!answered(TestPacket.ip(me4, absent4, proto: 17, transport: [1, 2, 3, 4], checksumAt: nil, fragmentOffset: 10)))
        #expect(!answered([0x45, 0, 0]))
        #expect(r.sent == 6 && r.suppressed == 0)
        // Without overlay prefixes (standalone mode) nothing is answered.
        var none = NoRouteReplies()
        #expect(TestPacket.syn(me4, absent4, 1, 2).withUnsafeBytes { none.reply(to: $0, now: now) } == nil)
    }

    @Test func aPeerThePolicyHidesIsAnsweredAsAdministrativelyProhibited() throws {
        var r = replies()
        r.setHiddenAddresses([absent4, absent6])
        let now = MonotonicTime(nanoseconds: 0)
        for (me, hidden, other) in [(me4, absent4, Fixture.v4(8)), (me6, absent6, Fixture.v6(8))] {
            let syn = TestPacket.syn(me, hidden, 40000, 5432)
            let reply = try #require(syn.withUnsafeBytes { r.reply(to: $0, now: now) })
            #expect(TestPacket.checksumsVerify(reply))
            let h = try #require(PacketHeaders.of(reply))
            #expect(me.isV4 ? (h.icmpType == 3 && h.icmpCode == 13) : (h.icmpType == 1 && h.icmpCode == 1))
            #expect(h.source == hidden && h.destination == me && h.quoted?.destinationPort == 5432)
            // An overlay address no hidden peer has: host unreachable.
            let unknown = try #require(TestPacket.syn(me, other, 40000, 5432).withUnsafeBytes { r.reply(to: $0, now: now) })
            let u = try #require(PacketHeaders.of(unknown))
            #expect(me.isV4 ? (u.icmpType == 3 && u.icmpCode == 1) : (u.icmpType == 1 && u.icmpCode == 3))
        }
        // The set is bounded.
        r.setHiddenAddresses((0..<5_000).map { Fixture.v4(UInt32($0)) })
        #expect(r.hiddenAddresses.count == NoRouteReplies.maxHiddenAddresses)
    }

    @Test func answersAreRateLimited() {
        var r = replies(10, burst: 5)
        func sent(at seconds: Int64) -> Int {
            var n = 0
            for i in 0..<1_000 where TestPacket.syn(me4, absent4, UInt16(1000 + i), 5432).withUnsafeBytes({
                r.reply(to: $0, now: MonotonicTime(nanoseconds: seconds * 1_000_000_000))
            }) != nil { n += 1 }
            return n
        }
        #expect(sent(at: 0) == 5)
        #expect(r.suppressed == 995)
        // A second later the budget has refilled by the rate (10/s, at most the burst of 5).
        #expect(sent(at: 1) == 5)
        #expect(sent(at: 1) == 0)
    }
}
