import PacketOffload
import Testing

@Suite struct SuperPacketSplitterTests {
    let timestamps: [UInt8] = [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]

    func tsoHeader(_ version: Int, gso: Int) -> VirtioNetHeader {
        VirtioNetHeader(flags: VirtioNetHeader.needsChecksum,
                        gsoType: (version == 4 ? VirtioNetHeader.GSOType.tcpV4 : .tcpV6).rawValue,
                        headerLength: UInt16(version == 4 ? 52 : 72), gsoSize: UInt16(gso),
                        checksumStart: UInt16(version == 4 ? 20 : 40), checksumOffset: 16)
    }

    @Test(arguments: [4, 6]) func tcpSuperPacketBecomesKernelLikeSegments(version: Int) throws {
        let data = PacketBuilder.payload(4000)
        // FIN, PSH and CWR on the super-packet: FIN and PSH belong on the last segment, CWR on the first.
        let superPacket = PacketBuilder.tcp(version: version, seq: 0xffff_f000, flags: 0x10 | 0x08 | 0x01 | 0x80,
                                            options: timestamps, payload: data)
        let segments = try PacketBuilder.split(superPacket, header: tsoHeader(version, gso: 1368))
        #expect(segments.count == 3)
        let ip = version == 4 ? 20 : 40
        var joined: [UInt8] = []
        for (i, s) in segments.enumerated() {
            #expect(PacketBuilder.checksumsVerify(s), "segment \(i)")
            let hl = ip + 32
            joined += s[hl...]
            let seq = UInt32(s[ip + 4]) << 24 | UInt32(s[ip + 5]) << 16 | UInt32(s[ip + 6]) << 8 | UInt32(s[ip + 7])
            #expect(seq == 0xffff_f000 &+ UInt32(i * 1368))
            let flags = s[ip + 13]
            #expect(flags & 0x10 != 0)
            #expect((flags & 0x09 != 0) == (i == 2))
            #expect((flags & 0x80 != 0) == (i == 0))
            #expect(Array(s[ip + 20..<ip + 32]) == timestamps)
            if version == 4 {
                #expect(Int(s[2]) << 8 | Int(s[3]) == s.count)
                #expect(Int(s[4]) << 8 | Int(s[5]) == 0x1234 + i)
            } else {
                #expect(Int(s[4]) << 8 | Int(s[5]) == s.count - 40)
            }
        }
        #expect(segments.map(\.count) == [ip + 32 + 1368, ip + 32 + 1368, ip + 32 + 4000 - 2 * 1368])
        #expect(joined == data)
    }

    @Test(arguments: [4, 6]) func udpSuperPacketBecomesDatagrams(version: Int) throws {
        let data = PacketBuilder.payload(3000, seed: 3)
        let superPacket = PacketBuilder.udp(version: version, payload: data)
        let header = VirtioNetHeader(flags: VirtioNetHeader.needsChecksum, gsoType: VirtioNetHeader.GSOType.udpL4.rawValue,
                                     headerLength: UInt16(version == 4 ? 28 : 48), gsoSize: 1372,
                                     checksumStart: UInt16(version == 4 ? 20 : 40), checksumOffset: 6)
        let segments = try PacketBuilder.split(superPacket, header: header)
        #expect(segments.count == 3)
        let ip = version == 4 ? 20 : 40
        var joined: [UInt8] = []
        for s in segments {
            #expect(PacketBuilder.checksumsVerify(s))
            #expect(Int(s[ip + 4]) << 8 | Int(s[ip + 5]) == s.count - ip)
            joined += s[(ip + 8)...]
        }
        #expect(joined == data)
        // Each datagram is what one would build directly.
        #expect(segments[0] == PacketBuilder.udp(version: version, payload: Array(data[0..<1372])).enumerated().map { i, b in
            version == 4 && (i == 4 || i == 5 || i == 10 || i == 11) ? segments[0][i] : b })
    }

    @Test func refusals() {
        let tcp4 = PacketBuilder.tcp(seq: 1, payload: PacketBuilder.payload(3000))
        let tcp6 = PacketBuilder.tcp(version: 6, seq: 1, payload: PacketBuilder.payload(3000))
        #expect(throws: SuperPacketSplitter.Refusal.malformed) { try PacketBuilder.split(tcp4, header: tsoHeader(6, gso: 1000)) }
        #expect(throws: SuperPacketSplitter.Refusal.malformed) { try PacketBuilder.split(tcp6, header: tsoHeader(4, gso: 1000)) }
        #expect(throws: SuperPacketSplitter.Refusal.malformed) { try PacketBuilder.split(tcp4, header: tsoHeader(4, gso: 0)) }
        #expect(throws: SuperPacketSplitter.Refusal.segmentTooLarge) { try PacketBuilder.split(tcp4, header: tsoHeader(4, gso: 1481)) }
        #expect(throws: SuperPacketSplitter.Refusal.unsupportedType) {
            try PacketBuilder.split(tcp4, header: VirtioNetHeader(gsoType: VirtioNetHeader.GSOType.udp.rawValue, gsoSize: 1000))
        }
        #expect(throws: SuperPacketSplitter.Refusal.malformed) {
            try PacketBuilder.split(Array(tcp4[0..<30]), header: tsoHeader(4, gso: 1000))
        }
    }

    @Test func completesAPartialChecksum() {
        var packet = PacketBuilder.tcp(seq: 5, payload: PacketBuilder.payload(700))
        let good = packet
        // What the kernel leaves with NEEDS_CSUM: the pseudo-header's sum, not complemented.
        let pseudo = PacketBuilder.pseudo(version: 4, proto: 6, length: packet.count - 20)
        let partial = ~PacketBuilder.referenceChecksum(pseudo)
        packet[36] = UInt8(partial >> 8); packet[37] = UInt8(partial & 0xff)
        let header = VirtioNetHeader(flags: VirtioNetHeader.needsChecksum, checksumStart: 20, checksumOffset: 16)
        let ok = packet.withUnsafeMutableBytes { SuperPacketSplitter.completeChecksum(header: header, packet: $0.baseAddress!, length: $0.count) }
        #expect(ok)
        #expect(packet == good)
        let outside = VirtioNetHeader(flags: VirtioNetHeader.needsChecksum, checksumStart: 700, checksumOffset: 60)
        #expect(!packet.withUnsafeMutableBytes { SuperPacketSplitter.completeChecksum(header: outside, packet: $0.baseAddress!, length: $0.count) })
    }
}
