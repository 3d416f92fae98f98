/// GRO done in the node, on the way into the TUN: consecutive TCP segments (and, where the TUN
/// takes USO, UDP datagrams) of one flow from one receive batch are merged into one
/// super-packet with a virtio header (`NEEDS_CSUM`, `gsoSize` = the segments' payload size),
/// so the kernel takes one packet where the peer sent 45. TCP merges follow the kernel's own
/// GRO rules (`tcp_gro_receive`): same addresses, ports, IP fields, ACK number, window and
/// options; sequence numbers back to back; only ACK and PSH set; every segment but the last
/// exactly `gsoSize` long; PSH ends a merge. UDP merges (`udp_gro_receive`): same addresses,
/// ports and IP fields, every datagram but the last `gsoSize` long. Anything else goes through
/// alone, after the merge of its own flow, so no flow is reordered.
///
/// Every packet is written with a virtio header: `add` needs `VirtioNetHeader.size` writable
/// bytes before each packet, where a lone packet's (all-zero) header is put in place.
/// Owns its merge buffers (`flowSlots` × 64 KiB, allocated once).
public final class SegmentCoalescer {
    public static let maxPacket = 65535
    private static let bufferSize = VirtioNetHeader.size + maxPacket

    private struct Merge {
        var active = false
        var headers = TransportHeaders.placeholder
        var length = 0            // bytes of IP packet in the buffer
        var segments = 0
        var segmentPayload = 0    // the first segment's payload: gsoSize
        var closed = false        // a short segment or PSH was the last one appended
        var nextSequence: UInt32 = 0
        var opened: UInt64 = 0
    }

    private let buffers: UnsafeMutableRawPointer
    private var merges: [Merge]
    private var opened: UInt64 = 0
    /// Segments that went into a merge of two or more, and the super-packets written.
    public private(set) var coalescedSegments = 0
    public private(set) var superPackets = 0

    /// Whether UDP datagrams are merged too (the TUN must accept `udpL4` writes: Linux 6.2+,
    /// the same kernels that grant USO).
    public let mergesUDP: Bool

    public init(flowSlots: Int = 8, mergesUDP: Bool = false) {
        self.mergesUDP = mergesUDP
        let n = max(1, flowSlots)
        buffers = .allocate(byteCount: n * Self.bufferSize, alignment: 64)
        merges = [Merge](repeating: Merge(), count: n)
    }

    deinit { buffers.deallocate() }

    private func buffer(_ k: Int) -> UnsafeMutableRawPointer { buffers + k * Self.bufferSize + VirtioNetHeader.size }

    /// Takes one IP packet (`length` bytes at `packet`, with writable headroom before it) and
    /// writes, through `write`, whatever is ready: a lone packet at once, merges when their
    /// flow cannot continue. Call `flush` at the end of the batch.
    public func add(_ packet: UnsafeMutableRawPointer, length: Int, write: (UnsafeRawBufferPointer) -> Void) {
        guard let h = TransportHeaders(packet: packet, length: length),
              h.protocolNumber == TransportHeaders.tcp || (mergesUDP && h.protocolNumber == TransportHeaders.udp) else {
            writeAlone(packet, length: length, write: write)
            return
        }
        var match = -1
        for k in merges.indices where merges[k].active && merges[k].headers == h && Self.sameFlow(buffer(k), packet, h) {
            match = k
            break
        }
        let eligible = Self.mergeable(packet, length: length, h)
        if match >= 0 {
            if eligible && append(k: match, packet, length: length, h) { return }
            flush(match, write: write)
        }
        guard eligible else {
            writeAlone(packet, length: length, write: write)
            return
        }
        open(packet, length: length, h, write: write)
    }

    /// Writes every merge still open.
    public func flush(write: (UnsafeRawBufferPointer) -> Void) {
        // Oldest first: the order the flows' first segments arrived in.
        while true {
            var oldest = -1
            for k in merges.indices where merges[k].active && (oldest < 0 || merges[k].opened < merges[oldest].opened) { oldest = k }
            guard oldest >= 0 else { return }
            flush(oldest, write: write)
        }
    }

    // MARK: -

    @inline(__always)
    private func writeAlone(_ packet: UnsafeMutableRawPointer, length: Int, write: (UnsafeRawBufferPointer) -> Void) {
        let start = packet - VirtioNetHeader.size
        VirtioNetHeader().write(to: start)
        write(UnsafeRawBufferPointer(start: start, count: length + VirtioNetHeader.size))
    }

    /// A segment that may start or join a merge: the whole packet as its IP header says,
    /// payload present, no IPv4 options; TCP with only ACK (and PSH) set; UDP whose length
    /// field agrees.
    @inline(__always)
    private static func mergeable(_ p: UnsafeRawPointer, length: Int, _ h: TransportHeaders) -> Bool {
        guard h.declaredLength(p) == length, length > h.length else { return false }
        if h.version == 4 && h.ipHeaderLength != 20 { return false }
        if h.protocolNumber == TransportHeaders.udp {
            return Int(UInt16(bigEndian: p.loadUnaligned(fromByteOffset: h.ipHeaderLength + 4, as: UInt16.self))) == length - h.ipHeaderLength
        }
        let flags = p.load(fromByteOffset: h.ipHeaderLength + 13, as: UInt8.self)
        return flags & ~UInt8(0x08) == 0x10
    }

    /// Addresses and ports equal (the flow), read from the merge's first packet.
    @inline(__always)
    private static func sameFlow(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ h: TransportHeaders) -> Bool {
        let (offset, count) = h.version == 4 ? (12, 8) : (8, 32)
        guard Self.equalBytes(a + offset, b + offset, count) else { return false }
        return a.loadUnaligned(fromByteOffset: h.ipHeaderLength, as: UInt32.self)
            == b.loadUnaligned(fromByteOffset: h.ipHeaderLength, as: UInt32.self)
    }

    /// The header fields that must be equal for two segments to be one stream of bytes:
    /// IPv4 TOS, DF, TTL / IPv6 traffic class, flow label, hop limit; TCP ACK number, data
    /// offset, window, urgent pointer and every option byte.
    @inline(__always)
    private static func sameHeaders(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ h: TransportHeaders) -> Bool {
        if h.version == 4 {
            guard a.load(fromByteOffset: 1, as: UInt8.self) == b.load(fromByteOffset: 1, as: UInt8.self),
                  a.load(fromByteOffset: 6, as: UInt8.self) == b.load(fromByteOffset: 6, as: UInt8.self),
                  a.load(fromByteOffset: 8, as: UInt8.self) == b.load(fromByteOffset: 8, as: UInt8.self) else { return false }
        } else {
            guard a.loadUnaligned(as: UInt32.self) == b.loadUnaligned(as: UInt32.self),
                  a.load(fromByteOffset: 7, as: UInt8.self) == b.load(fromByteOffset: 7, as: UInt8.self) else { return false }
        }
        guard h.protocolNumber == TransportHeaders.tcp else { return true }
        let ta = a + h.ipHeaderLength, tb = b + h.ipHeaderLength
        guard Self.equalBytes(ta + 8, tb + 8, 4), Self.equalBytes(ta + 14, tb + 14, 2), Self.equalBytes(ta + 18, tb + 18, 2) else { return false }
        return h.transportHeaderLength == 20 || Self.equalBytes(ta + 20, tb + 20, h.transportHeaderLength - 20)
    }

    @inline(__always)
    private static func equalBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
        var i = 0
        while i + 4 <= count {
            guard a.loadUnaligned(fromByteOffset: i, as: UInt32.self) == b.loadUnaligned(fromByteOffset: i, as: UInt32.self) else { return false }
            i += 4
        }
        while i < count {
            guard a.load(fromByteOffset: i, as: UInt8.self) == b.load(fromByteOffset: i, as: UInt8.self) else { return false }
            i += 1
        }
        return true
    }

    private func open(_ packet: UnsafeMutableRawPointer, length: Int, _ h: TransportHeaders, write: (UnsafeRawBufferPointer) -> Void) {
        var k = merges.firstIndex { !$0.active } ?? -1
        if k < 0 {
            // Every slot busy: the merge opened longest ago goes out to make room.
            k = 0
            for j in merges.indices where merges[j].opened < merges[k].opened { k = j }
            flush(k, write: write)
        }
        buffer(k).copyMemory(from: packet, byteCount: length)
        let payload = length - h.length
        let tcp = h.protocolNumber == TransportHeaders.tcp
        let seq = tcp ? UInt32(bigEndian: packet.loadUnaligned(fromByteOffset: h.ipHeaderLength + 4, as: UInt32.self)) : 0
        let psh = tcp && packet.load(fromByteOffset: h.ipHeaderLength + 13, as: UInt8.self) & 0x08 != 0
        opened &+= 1
        merges[k] = Merge(active: true, headers: h, length: length, segments: 1, segmentPayload: payload,
                          closed: psh, nextSequence: tcp ? seq &+ UInt32(truncatingIfNeeded: payload) : 0, opened: opened)
    }

    private func append(k: Int, _ packet: UnsafeMutableRawPointer, length: Int, _ h: TransportHeaders) -> Bool {
        let m = merges[k]
        let payload = length - h.length
        let tcp = h.protocolNumber == TransportHeaders.tcp
        let seq = tcp ? UInt32(bigEndian: packet.loadUnaligned(fromByteOffset: h.ipHeaderLength + 4, as: UInt32.self)) : 0
        guard !m.closed, seq == m.nextSequence, payload <= m.segmentPayload,
              m.length + payload <= Self.maxPacket, m.segments < 64,
              Self.sameHeaders(buffer(k), packet, h) else { return false }
        (buffer(k) + m.length).copyMemory(from: packet + h.length, byteCount: payload)
        let flags = tcp ? packet.load(fromByteOffset: h.ipHeaderLength + 13, as: UInt8.self) : 0
        if flags & 0x08 != 0 {
            let first = buffer(k) + h.ipHeaderLength + 13
            first.storeBytes(of: first.load(as: UInt8.self) | 0x08, as: UInt8.self)
        }
        merges[k].length += payload
        merges[k].segments += 1
        merges[k].nextSequence = tcp ? seq &+ UInt32(truncatingIfNeeded: payload) : 0
        merges[k].closed = flags & 0x08 != 0 || payload < m.segmentPayload
        return true
    }

    private func flush(_ k: Int, write: (UnsafeRawBufferPointer) -> Void) {
        let m = merges[k]
        merges[k].active = false
        let p = buffer(k), h = m.headers
        let start = p - VirtioNetHeader.size
        guard m.segments > 1 else {
            VirtioNetHeader().write(to: start)
            write(UnsafeRawBufferPointer(start: start, count: m.length + VirtioNetHeader.size))
            return
        }
        h.setTotalLength(p, m.length)
        // NEEDS_CSUM: the field holds the pseudo-header's sum over the whole transport length
        // (the kernel adjusts it per segment when it has to cut the packet again), the kernel
        // adds the rest. A UDP super-packet's length field covers it all, as the kernel's own do.
        let l4Length = m.length - h.ipHeaderLength
        let tcp = h.protocolNumber == TransportHeaders.tcp
        let pseudo = InternetChecksum.pseudoHeaderSum(ip: p, version: h.version, protocolNumber: h.protocolNumber, transportLength: l4Length)
        if !tcp { p.storeBytes(of: UInt16(truncatingIfNeeded: l4Length).bigEndian, toByteOffset: h.ipHeaderLength + 4, as: UInt16.self) }
        p.storeBytes(of: InternetChecksum.fold(pseudo), toByteOffset: h.ipHeaderLength + (tcp ? 16 : 6), as: UInt16.self)
        let type: VirtioNetHeader.GSOType = tcp ? (h.version == 4 ? .tcpV4 : .tcpV6) : .udpL4
        VirtioNetHeader(flags: VirtioNetHeader.needsChecksum, gsoType: type.rawValue,
                        headerLength: UInt16(h.length), gsoSize: UInt16(m.segmentPayload),
                        checksumStart: UInt16(h.ipHeaderLength), checksumOffset: tcp ? 16 : 6).write(to: start)
        write(UnsafeRawBufferPointer(start: start, count: m.length + VirtioNetHeader.size))
        coalescedSegments += m.segments
        superPackets += 1
    }
}
