// The data path's offload code (Sources/PacketOffload): what it parses comes from the kernel
// (TUN super-packets and their virtio headers) and from peers (decrypted packets that the
// coalescer merges before the TUN write: a hostile peer chooses every byte of those).
// First byte: 0 = raw virtio header and packet into SuperPacketSplitter; 1 = a TCP/UDP
// super-packet built from the input, split; 2 = a batch of packets, raw or built as segments
// of a few flows (in and out of order, odd flags and lengths), through SegmentCoalescer.
// Checked: nothing traps; a split gives exactly segmentCount segments, none past the slot, each
// with the super-packet's headers and valid checksums, their payloads the super-packet's in
// order; the coalescer writes at most one frame per packet, each a zero header and a packet
// given to it unchanged, or a NEEDS_CSUM super-packet of at most 64 KiB that splits back into
// segments with the same payload bytes.
import PacketOffload

private func checksumOK(_ p: UnsafeRawPointer, _ length: Int) -> Bool {
    guard let h = TransportHeaders(packet: p, length: length) else { return false }
    if h.version == 4 && InternetChecksum.fold(InternetChecksum.sum(p, count: h.ipHeaderLength)) != 0xffff { return false }
    let l4 = length - h.ipHeaderLength
    let sum = InternetChecksum.sum(p + h.ipHeaderLength, count: l4,
                                   initial: InternetChecksum.pseudoHeaderSum(ip: p, version: h.version, protocolNumber: h.protocolNumber, transportLength: l4))
    return InternetChecksum.fold(sum) == 0xffff
}

/// Splits and checks; returns the segments' payload bytes in order (nil: refused).
private func split(_ header: VirtioNetHeader, _ packet: [UInt8], capacity: Int, strict: Bool) -> [UInt8]? {
    let input = UnsafeMutableRawPointer.allocate(byteCount: max(1, packet.count), alignment: 16)
    let out = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    defer { input.deallocate(); out.deallocate() }
    packet.withUnsafeBytes { if let b = $0.baseAddress { input.copyMemory(from: b, byteCount: $0.count) } }
    guard var s = try? SuperPacketSplitter(header: header, packet: input, length: packet.count, capacity: capacity) else { return nil }
    let expected = s.segmentCount
    precondition(expected >= 1 && expected <= 65536, "segment count \(expected)")
    let headers = TransportHeaders(packet: input, length: packet.count)!
    var payload: [UInt8] = []
    var n = 0
    while let m = s.next(into: out) {
        n += 1
        precondition(n <= expected && m <= capacity && m >= headers.length, "segment \(n) of \(m) bytes")
        let h = TransportHeaders(packet: out, length: m)
        precondition(h?.protocolNumber == headers.protocolNumber && h?.length == headers.length, "segment headers changed")
        if strict { precondition(checksumOK(out, m), "segment \(n) checksum") }
        payload += Array(UnsafeRawBufferPointer(start: out + headers.length, count: m - headers.length))
    }
    precondition(n == expected, "\(n) segments, \(expected) announced")
    precondition(payload == Array(packet[headers.length...]), "payload changed in the split")
    return payload
}

/// A TCP or UDP packet over IPv4 or IPv6 between two fixed hosts, with valid checksums.
private func built(_ r: inout FuzzReader, payload: Int, seq: UInt32, port: UInt8) -> [UInt8] {
    let flags = r.u8()
    let v6 = flags & 1 != 0, udp = flags & 2 != 0
    let options = Int(flags >> 5 & 3) * 4
    let body = (0..<payload).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(seq)) }
    var l4: [UInt8]
    if udp {
        let len = 8 + body.count
        l4 = [0x9c, port, 0x14, 0x51, UInt8(len >> 8 & 0xff), UInt8(len & 0xff), 0, 0] + body
    } else {
        let tcpFlags = flags & 0x10 != 0 ? r.u8() : 0x10
        l4 = [0x9c, port, 0x14, 0x51, UInt8(seq >> 24), UInt8(seq >> 16 & 0xff), UInt8(seq >> 8 & 0xff), UInt8(seq & 0xff),
              0, 0, 0x1e, 0x61, UInt8((20 + options) / 4) << 4, tcpFlags, 1, 0xf6, 0, 0, 0, 0]
            + [UInt8](repeating: 1, count: options) + body
    }
    let proto: UInt8 = udp ? 17 : 6
    var ip: [UInt8]
    if v6 {
        ip = [0x60, 0, 0, 0, UInt8(l4.count >> 8 & 0xff), UInt8(l4.count & 0xff), proto, 64]
            + [0xfd, 0x7a] + [UInt8](repeating: 0, count: 13) + [1] + [0xfd, 0x7a] + [UInt8](repeating: 0, count: 13) + [2]
    } else {
        let total = 20 + l4.count
        ip = [0x45, 0, UInt8(total >> 8 & 0xff), UInt8(total & 0xff), 0, 1, 0x40, 0, 64, proto, 0, 0, 10, 100, 0, 1, 10, 100, 0, 2]
        ip.withUnsafeMutableBytes { InternetChecksum.setIPv4HeaderChecksum($0.baseAddress!, headerLength: 20) }
    }
    var p = ip + l4
    let at = ip.count + (udp ? 6 : 16)
    p.withUnsafeMutableBytes { b in
        let sum = InternetChecksum.sum(b.baseAddress! + ip.count, count: l4.count,
                                       initial: InternetChecksum.pseudoHeaderSum(ip: b.baseAddress!, version: v6 ? 6 : 4,
                                                                                 protocolNumber: proto, transportLength: l4.count))
        b.storeBytes(of: ~InternetChecksum.fold(sum), toByteOffset: at, as: UInt16.self)
    }
    return p
}

private func coalesce(_ r: inout FuzzReader) {
    let mergesUDP = r.u8() & 1 != 0
    let c = SegmentCoalescer(flowSlots: Int(r.u8() % 4) + 1, mergesUDP: mergesUDP)
    var given: [[UInt8]] = []
    var frames: [(VirtioNetHeader, [UInt8])] = []
    let record: (UnsafeRawBufferPointer) -> Void = { f in
        precondition(f.count >= VirtioNetHeader.size && f.count <= VirtioNetHeader.size + 65535, "frame of \(f.count) bytes")
        frames.append((VirtioNetHeader(f)!, Array(f[VirtioNetHeader.size...])))
    }
    var seq: [UInt32] = [1000, 5000, 9000]
    for _ in 0..<Int(r.u8() % 48) {
        let kind = r.u8()
        var p: [UInt8]
        if kind < 64 {
            p = r.chunk()
            if p.count > 2000 { p = Array(p[0..<2000]) }
        } else {
            let flow = Int(kind % 3)
            let size = kind & 0x80 != 0 ? 1000 : Int(r.u16() % 1400)
            if kind & 0x40 != 0 && kind & 0x08 != 0 { seq[flow] &+= UInt32(r.u8()) }  // a gap now and then
            p = built(&r, payload: size, seq: seq[flow], port: UInt8(flow))
            seq[flow] &+= UInt32(size)
        }
        given.append(p)
        let buf = UnsafeMutableRawPointer.allocate(byteCount: p.count + VirtioNetHeader.size, alignment: 16)
        p.withUnsafeBytes { if let b = $0.baseAddress { (buf + VirtioNetHeader.size).copyMemory(from: b, byteCount: p.count) } }
        c.add(buf + VirtioNetHeader.size, length: p.count, write: record)
        buf.deallocate()
    }
    c.flush(write: record)
    precondition(frames.count <= given.count, "\(frames.count) frames for \(given.count) packets")
    for (h, p) in frames {
        if h == VirtioNetHeader() {
            precondition(given.contains(p), "a lone packet was changed")
            continue
        }
        precondition(h.flags == VirtioNetHeader.needsChecksum && (h.kind == .tcpV4 || h.kind == .tcpV6 || (mergesUDP && h.kind == .udpL4)),
                     "merged frame header \(h)")
        guard let payload = split(h, p, capacity: 65535, strict: true) else { preconditionFailure("a merged frame does not split") }
        precondition(payload.count == p.count - Int(h.headerLength), "merged payload length")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var r = FuzzReader(data, size)
    switch r.u8() % 3 {
    case 0:
        let head = r.take(VirtioNetHeader.size) + [UInt8](repeating: 0, count: VirtioNetHeader.size)
        let header = head.withUnsafeBytes { VirtioNetHeader($0)! }
        let capacity = 64 + Int(r.u16() % 2000)
        var packet = r.rest()
        if packet.count > 65535 { packet = Array(packet[0..<65535]) }
        _ = split(header, packet, capacity: capacity, strict: false)
        if header.gsoType == 0 {
            packet.withUnsafeMutableBytes { b in
                if let base = b.baseAddress { _ = SuperPacketSplitter.completeChecksum(header: header, packet: base, length: b.count) }
            }
        }
    case 1:
        let gso = Int(r.u16() % 1500)
        let p = built(&r, payload: Int(r.u16()) % 65000, seq: UInt32(r.u16()) << 16, port: 1)
        guard p.count <= 65535, let h = TransportHeaders(packet: p, length: p.count) else { return 0 }
        let type: VirtioNetHeader.GSOType = h.protocolNumber == 17 ? .udpL4 : (h.version == 4 ? .tcpV4 : .tcpV6)
        let header = VirtioNetHeader(flags: VirtioNetHeader.needsChecksum, gsoType: type.rawValue, headerLength: UInt16(h.length),
                                     gsoSize: UInt16(gso), checksumStart: UInt16(h.ipHeaderLength), checksumOffset: h.protocolNumber == 17 ? 6 : 16)
        _ = split(header, p, capacity: 1500, strict: true)
    default:
        coalesce(&r)
    }
    return 0
}
