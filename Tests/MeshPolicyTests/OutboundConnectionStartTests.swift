import MeshBase
import MeshPolicy
import Testing

@Suite struct OutboundConnectionStartTests {
    let a4 = Fixture.v4(1), b4 = Fixture.v4(2)
    let a6 = Fixture.v6(1), b6 = Fixture.v6(2)

    func fast(_ p: [UInt8]) -> Bool { p.withUnsafeBytes { OutboundConnectionStart.isTCPOpen($0) } }
    func full(_ p: [UInt8]) -> Bool { PacketHeaders.of(p)?.isTCPOpen == true }

    @Test func agreesWithTheFullParse() throws {
        var packets: [[UInt8]] = []
        for (a, b) in [(a4, b4), (a6, b6)] {
            for flags: UInt8 in [0, PacketHeaders.tcpSYN, PacketHeaders.tcpSYN | PacketHeaders.tcpACK, PacketHeaders.tcpACK,
                                 PacketHeaders.tcpSYN | PacketHeaders.tcpFIN, PacketHeaders.tcpRST, 0xFF] {
                packets.append(TestPacket.tcp(a, b, 40000, 80, flags: flags))
            }
            packets.append(TestPacket.udp(a, b, 40000, 80))
            packets.append(TestPacket.echo(a, b, request: true, id: 7))
        }
        // IPv6 with an extension header before TCP; a later fragment; a truncated SYN.
        let tcp6 = Array(TestPacket.syn(a6, b6, 40000, 80)[40...])
        packets.append(TestPacket.ip(a6, b6, proto: 6, transport: tcp6, checksumAt: nil, extensionHeaders: [(0, TestPacket.optionsHeader)]))
        packets.append(TestPacket.ip(a6, b6, proto: 6, transport: tcp6, checksumAt: nil,
                                     extensionHeaders: [(44, TestPacket.fragmentHeader(offset: 0, more: true))]))
        let tcp4 = Array(TestPacket.syn(a4, b4, 40000, 80)[20...])
        packets.append(TestPacket.ip(a4, b4, proto: 6, transport: tcp4, checksumAt: nil, fragmentOffset: 3))
        packets.append(Array(TestPacket.syn(a4, b4, 40000, 80).prefix(39)))
        packets.append(Array(TestPacket.syn(a6, b6, 40000, 80).prefix(59)))
        var starts = 0
        for p in packets {
            #expect(fast(p) == full(p), "\(p)")
            if fast(p) { starts += 1 }
        }
        // SYN and SYN+FIN per family, and the IPv6 SYNs behind an options header and in a first fragment.
        #expect(starts == 6)
    }

    @Test func anIPv4HeaderWithOptionsIsRead() {
        var p = TestPacket.syn(a4, b4, 40000, 80)
        // 4 bytes of options (NOPs) after the 20-byte header: the flags move with them.
        p.insert(contentsOf: [1, 1, 1, 1], at: 20)
        p[0] = 0x46
        p[3] = UInt8(p.count)
        #expect(fast(p))
        p[0] = 0x44  // a header length below 20 bytes: not read as TCP
        #expect(!fast(p))
    }
}
