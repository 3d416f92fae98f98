import PacketOffload
import Testing

@Suite struct SegmentCoalescerTests {
    let options: [UInt8] = [1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 4]

    func segments(version: Int = 4, count: Int, size: Int = 1368, last: Int? = nil, seq: UInt32 = 1000,
                  port: Int = 40000, pshOnLast: Bool = true) -> [[UInt8]] {
        (0..<count).map { i in
            let n = i == count - 1 ? (last ?? size) : size
            let flags: UInt8 = i == count - 1 && pshOnLast ? 0x18 : 0x10
            return PacketBuilder.tcp(version: version, seq: seq &+ UInt32(i * size), flags: flags, options: options,
                                     payload: PacketBuilder.payload(n, seed: i + port), id: 0x100 + i, sourcePort: port)
        }
    }

    @Test(arguments: [4, 6]) func consecutiveSegmentsBecomeOneSuperPacketThatSplitsBackExactly(version: Int) throws {
        let original = segments(version: version, count: 10, last: 500)
        let written = PacketBuilder.coalesce(original)
        #expect(written.count == 1)
        let (header, packet) = written[0]
        #expect(header.kind == (version == 4 ? .tcpV4 : .tcpV6))
        #expect(header.flags == VirtioNetHeader.needsChecksum)
        #expect(header.gsoSize == 1368)
        let ip = version == 4 ? 20 : 40
        #expect(Int(header.headerLength) == ip + 32 && Int(header.checksumStart) == ip && header.checksumOffset == 16)
        #expect(packet.count == ip + 32 + 9 * 1368 + 500)
        // The kernel's TSO of that super-packet gives back the very segments (IPv4 IDs count up from the first).
        let again = try PacketBuilder.split(packet, header: header)
        #expect(again == original)
    }

    @Test func twoInterleavedFlowsEachMerge() {
        let a = segments(count: 4, port: 40000), b = segments(count: 4, seq: 99, port: 40002)
        let written = PacketBuilder.coalesce(zip(a, b).flatMap { [$0, $1] })
        #expect(written.count == 2)
        #expect(written.allSatisfy { $0.0.kind == .tcpV4 && $0.1.count == 20 + 32 + 4 * 1368 })
    }

    @Test func aFinFlushesItsFlowFirstSoOrderIsKept() {
        var batch = segments(count: 3, pshOnLast: false)
        let fin = PacketBuilder.tcp(seq: 1000 + 3 * 1368, flags: 0x11, options: options, payload: [])
        batch.append(fin)
        let written = PacketBuilder.coalesce(batch)
        #expect(written.count == 2)
        #expect(written[0].0.kind == .tcpV4 && written[0].1.count == 52 + 3 * 1368)
        #expect(written[1].0 == VirtioNetHeader() && written[1].1 == fin)
    }

    @Test func whatMayNotMergeGoesAlone() {
        // A gap in sequence numbers, a different ACK, a larger segment after a smaller one.
        let first = segments(count: 2, pshOnLast: false)
        let gap = PacketBuilder.tcp(seq: 1000 + 3 * 1368, options: options, payload: PacketBuilder.payload(1368), id: 9)
        #expect(PacketBuilder.coalesce(first + [gap]).count == 2)
        let otherAck = PacketBuilder.tcp(seq: 1000 + 2 * 1368, ack: 1, options: options, payload: PacketBuilder.payload(1368))
        #expect(PacketBuilder.coalesce(first + [otherAck]).count == 2)
        let short = segments(count: 2, last: 100, pshOnLast: false)
        let after = PacketBuilder.tcp(seq: 1000 + 1368 + 100, options: options, payload: PacketBuilder.payload(1368))
        #expect(PacketBuilder.coalesce(short + [after]).count == 2)
        // PSH ends a merge.
        let pushed = segments(count: 2)
        let next = PacketBuilder.tcp(seq: 1000 + 2 * 1368, options: options, payload: PacketBuilder.payload(1368))
        #expect(PacketBuilder.coalesce(pushed + [next]).count == 2)
    }

    @Test func udpAndLoneSegmentsAreWrittenUnchangedWithAZeroHeader() {
        let udp = PacketBuilder.udp(payload: PacketBuilder.payload(200))
        let one = segments(count: 1)[0]
        let written = PacketBuilder.coalesce([udp, one])
        #expect(written.count == 2)
        #expect(written[0].0 == VirtioNetHeader() && written[0].1 == udp)
        #expect(written[1].0 == VirtioNetHeader() && written[1].1 == one)
        #expect(PacketBuilder.coalesce([[0x45, 0, 0]]).map(\.1) == [[0x45, 0, 0]])
    }

    @Test func aMergeStopsAt64KiB() {
        let original = segments(count: 60, pshOnLast: false)
        let written = PacketBuilder.coalesce(original)
        #expect(written.count == 2)
        #expect(written.allSatisfy { $0.1.count <= 65535 })
        #expect(written.map { ($0.1.count - 52) / 1368 }.reduce(0, +) == 60)
    }

    @Test func moreFlowsThanSlotsStillDeliversEverything() {
        let flows = (0..<5).map { segments(count: 3, port: 40000 + 2 * $0) }
        var batch: [[UInt8]] = []
        for i in 0..<3 { for f in flows { batch.append(f[i]) } }
        let written = PacketBuilder.coalesce(batch, flowSlots: 2)
        let bytes = written.map { $0.1.count - 52 }.reduce(0, +)
        #expect(bytes == 15 * 1368)
    }

    @Test(arguments: [4, 6]) func udpDatagramsMergeWhenTheTUNTakesUSOAndSplitBackExactly(version: Int) throws {
        let original = (0..<6).map { i in
            PacketBuilder.udp(version: version, payload: PacketBuilder.payload(i == 5 ? 300 : 1200, seed: i))
        }
        let written = PacketBuilder.coalesce(original, mergesUDP: true)
        #expect(written.count == 1)
        let (header, packet) = written[0]
        let ip = version == 4 ? 20 : 40
        #expect(header.kind == .udpL4 && header.flags == VirtioNetHeader.needsChecksum && header.gsoSize == 1200)
        #expect(Int(header.headerLength) == ip + 8 && Int(header.checksumStart) == ip && header.checksumOffset == 6)
        #expect(packet.count == ip + 8 + 5 * 1200 + 300)
        #expect(Int(packet[ip + 4]) << 8 | Int(packet[ip + 5]) == packet.count - ip)
        // Cut again as the kernel's USO would: the very datagrams (IPv4 IDs aside: all 0x1234 here).
        let again = try PacketBuilder.split(packet, header: header)
        #expect(again.count == 6)
        for (a, o) in zip(again, original) {
            #expect(PacketBuilder.checksumsVerify(a))
            #expect(Array(a[(ip + 8)...]) == Array(o[(ip + 8)...]))
            #expect(a.count == o.count)
        }
    }

    @Test func udpIsNotMergedWithoutUSOAndALargerDatagramEndsAMerge() {
        let small = PacketBuilder.udp(payload: PacketBuilder.payload(500))
        let big = PacketBuilder.udp(payload: PacketBuilder.payload(1200))
        #expect(PacketBuilder.coalesce([big, big, big]).count == 3)
        let merged = PacketBuilder.coalesce([big, big, small, big], mergesUDP: true)
        #expect(merged.count == 2)
        #expect(merged[0].0.kind == .udpL4 && merged[0].1.count == 28 + 2 * 1200 + 500)
        #expect(merged[1].0 == VirtioNetHeader() && merged[1].1 == big)
        // Two flows (source ports) stay apart.
        let other = PacketBuilder.udp(payload: PacketBuilder.payload(1200), sourcePort: 40003)
        #expect(PacketBuilder.coalesce([big, other, big, other], mergesUDP: true).count == 2)
    }
}
