import PacketOffload

/// IPv4/IPv6 TCP and UDP packets built field by field, with checksums computed by a plain
/// big-endian word-at-a-time reference (independent of `InternetChecksum`'s 64-bit path).
enum PacketBuilder {
    static func referenceChecksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var i = 0
        while i + 1 < bytes.count { sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1]); i += 2 }
        if i < bytes.count { sum += UInt32(bytes[i]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }

    static func be16(_ v: Int) -> [UInt8] { [UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }

    static let v4Source: [UInt8] = [10, 100, 0, 1], v4Destination: [UInt8] = [10, 100, 0, 2]
    static let v6Source: [UInt8] = [0xfd, 0x7a, 0x11, 0x5c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    static let v6Destination: [UInt8] = [0xfd, 0x7a, 0x11, 0x5c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]

    static func pseudo(version: Int, proto: UInt8, length: Int) -> [UInt8] {
        (version == 4 ? v4Source + v4Destination : v6Source + v6Destination) + [0, proto] + be16(length)
    }

    static func ip(version: Int, proto: UInt8, l4: [UInt8], id: Int = 0x1234, ttl: UInt8 = 64) -> [UInt8] {
        if version == 4 {
            var h: [UInt8] = [0x45, 0] + be16(20 + l4.count) + be16(id) + [0x40, 0, ttl, proto, 0, 0] + v4Source + v4Destination
            let c = referenceChecksum(h)
            h[10] = UInt8(c >> 8); h[11] = UInt8(c & 0xff)
            return h + l4
        }
        return [0x60, 0, 0, 0] + be16(l4.count) + [proto, ttl] + v6Source + v6Destination + l4
    }

    /// A TCP segment with a valid checksum; `options` (a multiple of 4 bytes) after the 20-byte header.
    static func tcp(version: Int = 4, seq: UInt32, ack: UInt32 = 7777, flags: UInt8 = 0x10, window: Int = 502,
                    options: [UInt8] = [], payload: [UInt8], id: Int = 0x1234, sourcePort: Int = 40000) -> [UInt8] {
        let offset = UInt8((20 + options.count) / 4) << 4
        var l4 = be16(sourcePort) + be16(5201) + be32(seq) + be32(ack) + [offset, flags] + be16(window) + [0, 0, 0, 0] + options + payload
        let c = referenceChecksum(pseudo(version: version, proto: 6, length: l4.count) + l4)
        l4[16] = UInt8(c >> 8); l4[17] = UInt8(c & 0xff)
        return ip(version: version, proto: 6, l4: l4, id: id)
    }

    static func udp(version: Int = 4, payload: [UInt8], sourcePort: Int = 40001) -> [UInt8] {
        var l4 = be16(sourcePort) + be16(5201) + be16(8 + payload.count) + [0, 0] + payload
        var c = referenceChecksum(pseudo(version: version, proto: 17, length: l4.count) + l4)
        if c == 0 { c = 0xffff }
        l4[6] = UInt8(c >> 8); l4[7] = UInt8(c & 0xff)
        return ip(version: version, proto: 17, l4: l4)
    }

    /// True when the packet's IP header checksum (IPv4) and transport checksum verify.
    static func checksumsVerify(_ p: [UInt8]) -> Bool {
        let version = Int(p[0] >> 4)
        let ihl = version == 4 ? Int(p[0] & 0x0f) * 4 : 40
        if version == 4 && referenceChecksum(Array(p[0..<ihl])) != 0 { return false }
        let proto = version == 4 ? p[9] : p[6]
        let l4 = Array(p[ihl...])
        return referenceChecksum(pseudo(version: version, proto: proto, length: l4.count) + l4) == 0
    }

    static func payload(_ count: Int, seed: Int = 1) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 31) &+ seed &* 7 &+ ($0 >> 8)) }
    }

    /// Splits `packet` as a super-packet with `header`, each segment into its own array.
    static func split(_ packet: [UInt8], header: VirtioNetHeader, capacity: Int = 1500) throws(SuperPacketSplitter.Refusal) -> [[UInt8]] {
        let out = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        let input = UnsafeMutableRawPointer.allocate(byteCount: max(1, packet.count), alignment: 16)
        defer { out.deallocate(); input.deallocate() }
        packet.withUnsafeBytes { input.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        var splitter = try SuperPacketSplitter(header: header, packet: input, length: packet.count, capacity: capacity)
        var segments: [[UInt8]] = []
        while let n = splitter.next(into: out) { segments.append(Array(UnsafeRawBufferPointer(start: out, count: n))) }
        return segments
    }

    /// Runs `packets` through a coalescer as one batch; returns what it wrote, virtio header and packet apart.
    static func coalesce(_ packets: [[UInt8]], flowSlots: Int = 8, mergesUDP: Bool = false) -> [(VirtioNetHeader, [UInt8])] {
        let c = SegmentCoalescer(flowSlots: flowSlots, mergesUDP: mergesUDP)
        var written: [(VirtioNetHeader, [UInt8])] = []
        let record: (UnsafeRawBufferPointer) -> Void = { b in
            written.append((VirtioNetHeader(b)!, Array(b[VirtioNetHeader.size...])))
        }
        for p in packets {
            let buf = UnsafeMutableRawPointer.allocate(byteCount: p.count + VirtioNetHeader.size, alignment: 16)
            p.withUnsafeBytes { (buf + VirtioNetHeader.size).copyMemory(from: $0.baseAddress!, byteCount: p.count) }
            c.add(buf + VirtioNetHeader.size, length: p.count, write: record)
            buf.deallocate()
        }
        c.flush(write: record)
        return written
    }
}
