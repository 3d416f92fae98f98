import MeshBase
import MeshPolicy
import Testing

@Suite struct RejectPacketTests {
    let a4 = Fixture.v4(1), b4 = Fixture.v4(2)
    let a6 = Fixture.v6(1), b6 = Fixture.v6(2)

    @Test func resetsFollowRFC9293() throws {
        for (a, b) in [(a4, b4), (a6, b6)] {
            // A segment without ACK: RST+ACK acknowledging all it occupied (payload, SYN, FIN).
            let synFin = try #require(PacketHeaders.of(TestPacket.tcp(a, b, 1111, 2222, flags: PacketHeaders.tcpSYN | PacketHeaders.tcpFIN,
                                                                     seq: 100, payload: 5)))
            let r1 = RejectPacket.tcpReset(for: synFin)
            #expect(TestPacket.checksumsVerify(r1))
            let h1 = try #require(PacketHeaders.of(r1))
            #expect(h1.source == b && h1.destination == a && h1.sourcePort == 2222 && h1.destinationPort == 1111)
            #expect(h1.tcpFlags == PacketHeaders.tcpRST | PacketHeaders.tcpACK && h1.tcpSequence == 0 && h1.tcpAcknowledgment == 107)
            #expect(h1.tcpPayloadLength == 0 && r1.count == (a.isV4 ? 40 : 60))
            // A segment with ACK: a bare RST whose sequence number is that ACK.
            let data = try #require(PacketHeaders.of(TestPacket.ackSegment(a, b, 1111, 2222)))
            let h2 = try #require(PacketHeaders.of(RejectPacket.tcpReset(for: data)))
            #expect(h2.tcpFlags == PacketHeaders.tcpRST && h2.tcpSequence == 7000 && h2.tcpAcknowledgment == 0)
        }
    }

    @Test func prohibitedQuotesHeaderAndEightBytes() throws {
        for (a, b) in [(a4, b4), (a6, b6)] {
            let packet = TestPacket.udp(a, b, 5000, 53, payload: 101)
            let h = try #require(PacketHeaders.of(packet))
            let reply = packet.withUnsafeBytes { RejectPacket.icmpProhibited(for: h, packet: $0) }
            #expect(TestPacket.checksumsVerify(reply))
            let header = a.isV4 ? 20 : 40
            #expect(reply.count == header + 8 + header + 8)
            #expect(Array(reply[(header + 8)...]) == Array(packet[0..<(header + 8)]))
            let r = try #require(PacketHeaders.of(reply))
            #expect(r.source == b && r.destination == a && r.isICMPError)
            #expect(r.quoted?.sourcePort == 5000 && r.quoted?.destinationPort == 53)
        }
        // IPv6 with an extension header: the quote takes the whole chain and 8 transport bytes.
        let udp = Array(TestPacket.udp(a6, b6, 1, 2)[40...])
        let packet = TestPacket.ip(a6, b6, proto: 17, transport: udp, checksumAt: nil, extensionHeaders: [(0, TestPacket.optionsHeader)])
        let h = try #require(PacketHeaders.of(packet))
        let reply = packet.withUnsafeBytes { RejectPacket.icmpProhibited(for: h, packet: $0) }
        #expect(reply.count == 40 + 8 + 56 && TestPacket.checksumsVerify(reply))

        // A long extension header (1,608 bytes of Pad1 options): the answer stops at IPv6's
        // minimum MTU, 1,280 bytes.
        var options = [UInt8](repeating: 0, count: 1_608)
        options[1] = 200  // (200 + 1) · 8 bytes
        let long = TestPacket.ip(a6, b6, proto: 17, transport: udp, checksumAt: nil, extensionHeaders: [(60, options)])
        let lh = try #require(PacketHeaders.of(long))
        #expect(lh.transportOffset == 40 + 1_608 && lh.destinationPort == 2)
        let capped = long.withUnsafeBytes { RejectPacket.icmpProhibited(for: lh, packet: $0) }
        #expect(capped.count == RejectPacket.maxICMPv6ErrorBytes && TestPacket.checksumsVerify(capped))
        #expect(Array(capped[48...]) == Array(long[0..<(1_280 - 48)]))
    }

    @Test func onlyUnicastPacketsAreAnswered() throws {
        func headers(_ from: IPAddress, _ to: IPAddress) throws -> PacketHeaders {
            try #require(PacketHeaders.of(TestPacket.udp(from, to, 1, 2)))
        }
        #expect(RejectPacket.mayAnswer(try headers(a4, b4)))
        #expect(RejectPacket.mayAnswer(try headers(a6, b6)))
        for group in [IPAddress.v4(0xE000_00FB), .v4(0xFFFF_FFFF), .v4(0), .v4(0x7F00_0001),
                      .v6(high: 0xFF02_0000_0000_0000, low: 0xFB), .v6(high: 0, low: 0), .v6(high: 0, low: 1)] {
            let same = group.isV4 ? a4 : a6
            #expect(!RejectPacket.mayAnswer(try headers(same, group)), "to \(group)")
            #expect(!RejectPacket.mayAnswer(try headers(group, same)), "from \(group)")
        }
    }
}
