import MeshBase
import MeshPolicy
import Testing

@Suite struct PacketHeadersTests {
    let a4 = Fixture.v4(1), b4 = Fixture.v4(2)
    let a6 = Fixture.v6(1), b6 = Fixture.v6(2)

    @Test func tcpOverBothFamilies() throws {
        for (a, b) in [(a4, b4), (a6, b6)] {
            let p = TestPacket.tcp(a, b, 40000, 5432, flags: PacketHeaders.tcpSYN | PacketHeaders.tcpACK,
                                   seq: 0xDEAD_BEEF, ack: 0x0102_0304, payload: 7)
            let h = try #require(PacketHeaders.of(p))
            #expect(h.source == a && h.destination == b)
            #expect(h.proto == 6)
            #expect(h.sourcePort == 40000 && h.destinationPort == 5432)
            #expect(h.tcpSequence == 0xDEAD_BEEF && h.tcpAcknowledgment == 0x0102_0304)
            #expect(h.tcpPayloadLength == 7)
            #expect(!h.isTCPOpen)  // SYN+ACK answers, it does not open
            #expect(h.length == p.count)
            #expect(h.transportOffset == (a.isV4 ? 20 : 40))
            #expect(PacketHeaders.of(TestPacket.syn(a, b, 1, 2))?.isTCPOpen == true)
        }
    }

    @Test func udpAndEcho() throws {
        let u = try #require(PacketHeaders.of(TestPacket.udp(b6, a6, 53, 33000)))
        #expect(u.proto == 17 && u.sourcePort == 53 && u.destinationPort == 33000)
        let e = try #require(PacketHeaders.of(TestPacket.echo(a4, b4, request: true, id: 0x1234)))
        #expect(e.isEchoRequest && !e.isEchoReply && e.sourcePort == 0x1234 && e.destinationPort == 0x1234)
        let r6 = try #require(PacketHeaders.of(TestPacket.echo(a6, b6, request: false, id: 7)))
        #expect(r6.isEchoReply && r6.proto == 58 && r6.sourcePort == 7)
    }

    @Test func icmpErrorsQuoteThePacketTheyAreAbout() throws {
        for (a, b) in [(a4, b4), (a6, b6)] {
            let sent = TestPacket.udp(a, b, 33000, 53)
            let error = try #require(PacketHeaders.of(TestPacket.unreachable(b, a, quoting: sent)))
            #expect(error.isICMPError)
            let q = try #require(error.quoted)
            #expect(q.source == a && q.destination == b && q.proto == 17 && q.sourcePort == 33000 && q.destinationPort == 53)
            // An echo we sent, quoted: its identifier stands for both ports.
            let ping = TestPacket.echo(a, b, request: true, id: 99)
            let pq = try #require(PacketHeaders.of(TestPacket.unreachable(b, a, quoting: ping))?.quoted)
            #expect(pq.sourcePort == 99 && pq.destinationPort == 99)
        }
        // Too little quoted: the error parses, its quote does not.
        let short = TestPacket.unreachable(b4, a4, quoting: Array(TestPacket.udp(a4, b4, 1, 2).prefix(24)))
        #expect(PacketHeaders.of(short)?.quoted == nil)
    }

    @Test func ipv6ExtensionHeadersAndFragments() throws {
        let udp = Array(TestPacket.udp(a6, b6, 1000, 2000)[40...])
        let withOptions = TestPacket.ip(a6, b6, proto: 17, transport: udp, checksumAt: nil,
                                        extensionHeaders: [(0, TestPacket.optionsHeader), (60, TestPacket.optionsHeader)])
        let h = try #require(PacketHeaders.of(withOptions))
        #expect(h.proto == 17 && h.transportOffset == 56 && h.destinationPort == 2000 && !h.isLaterFragment)

        let first = TestPacket.ip(a6, b6, proto: 17, transport: udp, checksumAt: nil,
                                  extensionHeaders: [(44, TestPacket.fragmentHeader(offset: 0, more: true))])
        let f = try #require(PacketHeaders.of(first))
        #expect(!f.isLaterFragment && f.destinationPort == 2000)
        let later = TestPacket.ip(a6, b6, proto: 17, transport: [1, 2, 3], checksumAt: nil,
                                  extensionHeaders: [(44, TestPacket.fragmentHeader(offset: 185, more: false))])
        let l = try #require(PacketHeaders.of(later))
        #expect(l.isLaterFragment && l.proto == 17)

        // A chain of nine option headers is refused, eight are walked.
        let eight = TestPacket.ip(a6, b6, proto: 17, transport: udp, checksumAt: nil,
                                  extensionHeaders: Array(repeating: (60, TestPacket.optionsHeader), count: 8))
        #expect(PacketHeaders.of(eight) != nil)
        let nine = TestPacket.ip(a6, b6, proto: 17, transport: udp, checksumAt: nil,
                                 extensionHeaders: Array(repeating: (60, TestPacket.optionsHeader), count: 9))
        #expect(PacketHeaders.of(nine) == nil)
        // An option header whose length runs past the packet.
        var long = withOptions
        long[41] = 200
        #expect(PacketHeaders.of(long) == nil)
    }

    @Test func laterIPv4FragmentsCarryNoTransportHeader() throws {
        let later = TestPacket.ip(a4, b4, proto: 6, transport: [9, 9, 9], checksumAt: nil, fragmentOffset: 100)
        let h = try #require(PacketHeaders.of(later))
        #expect(h.isLaterFragment && h.proto == 6 && h.sourcePort == 0)
        // A first fragment too short for its TCP header is malformed (RFC 1858's tiny fragments).
        let tiny = TestPacket.ip(a4, b4, proto: 6, transport: [0, 1, 0, 2, 0, 0, 0, 0], checksumAt: nil)
        #expect(PacketHeaders.of(tiny) == nil)
    }

    @Test func malformedPacketsAreRefusedNotTrapped() {
        #expect(PacketHeaders.of([]) == nil)
        #expect(PacketHeaders.of([0x45]) == nil)
        #expect(PacketHeaders.of([0x55] + [UInt8](repeating: 0, count: 40)) == nil)  // version 5
        var v4 = TestPacket.syn(a4, b4, 1, 2)
        v4[0] = 0x44  // header length 16
        #expect(PacketHeaders.of(v4) == nil)
        var longer = TestPacket.syn(a4, b4, 1, 2)
        longer[3] = 200  // total length beyond the buffer
        #expect(PacketHeaders.of(longer) == nil)
        var badOffset = TestPacket.syn(a6, b6, 1, 2)
        badOffset[40 + 12] = 0xF0  // TCP data offset 60 > 20 bytes present
        #expect(PacketHeaders.of(badOffset) == nil)
        // Trailing link padding beyond the IP length is ignored.
        let padded = TestPacket.udp(a4, b4, 1, 2) + [0, 0, 0, 0]
        #expect(PacketHeaders.of(padded)?.length == padded.count - 4)
        // Every prefix of valid packets, and random bytes, parse or fail without trapping.
        let samples = [TestPacket.syn(a4, b4, 1, 2), TestPacket.syn(a6, b6, 1, 2), TestPacket.echo(a6, b6, request: true, id: 1),
                       TestPacket.unreachable(b4, a4, quoting: TestPacket.udp(a4, b4, 1, 2)),
                       TestPacket.unreachable(b6, a6, quoting: TestPacket.syn(a6, b6, 1, 2))]
        for s in samples {
            for n in 0...s.count {
                if let h = PacketHeaders.of(Array(s.prefix(n))) {
                    #expect(h.length <= n && h.transportOffset <= h.length)
                }
            }
        }
        var rng = SplitMix(seed: 11)
        for i in 0..<20_000 {
            var bytes = (0..<Int(rng.next() % 120)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if !bytes.isEmpty { bytes[0] = i % 2 == 0 ? 0x45 : 0x60 }
            if bytes.count > 5 && i % 2 == 1 {
                // A plausible IPv6 payload length, so the extension walk is reached.
                bytes[4] = 0; bytes[5] = UInt8(max(0, bytes.count - 40))
            }
            if let h = PacketHeaders.of(bytes) { #expect(h.length <= bytes.count && h.transportOffset <= h.length) }
        }
    }
}
