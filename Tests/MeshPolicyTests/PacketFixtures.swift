import MeshBase
import MeshPolicy

/// IP packets built byte by byte for the filter's tests, with an independent checksum
/// implementation (RFC 1071) to verify the filter's rejects against.
enum TestPacket {
    static func tcp(_ from: IPAddress, _ to: IPAddress, _ sourcePort: UInt16, _ destinationPort: UInt16,
                    flags: UInt8, seq: UInt32 = 1000, ack: UInt32 = 0, payload: Int = 0) -> [UInt8] {
        var t = [UInt8](repeating: 0, count: 20)
        put16(&t, 0, sourcePort); put16(&t, 2, destinationPort)
        put32(&t, 4, seq); put32(&t, 8, ack)
        t[12] = 5 << 4
        t[13] = flags
        put16(&t, 14, 65535)
        t += [UInt8](repeating: 0x61, count: payload)
        return ip(from, to, proto: 6, transport: t, checksumAt: 16)
    }

    static func syn(_ from: IPAddress, _ to: IPAddress, _ sourcePort: UInt16, _ destinationPort: UInt16) -> [UInt8] {
        tcp(from, to, sourcePort, destinationPort, flags: PacketHeaders.tcpSYN)
    }

    static func ackSegment(_ from: IPAddress, _ to: IPAddress, _ sourcePort: UInt16, _ destinationPort: UInt16,
                           payload: Int = 10) -> [UInt8] {
        tcp(from, to, sourcePort, destinationPort, flags: PacketHeaders.tcpACK, seq: 5000, ack: 7000, payload: payload)
    }

    static func udp(_ from: IPAddress, _ to: IPAddress, _ sourcePort: UInt16, _ destinationPort: UInt16,
                    payload: Int = 12) -> [UInt8] {
        var u = [UInt8](repeating: 0, count: 8)
        put16(&u, 0, sourcePort); put16(&u, 2, destinationPort)
        put16(&u, 4, UInt16(8 + payload))
        u += [UInt8](repeating: 0x62, count: payload)
        return ip(from, to, proto: 17, transport: u, checksumAt: 6)
    }

    static func echo(_ from: IPAddress, _ to: IPAddress, request: Bool, id: UInt16, seq: UInt16 = 1) -> [UInt8] {
        var e = [UInt8](repeating: 0, count: 8)
        if from.isV4 { e[0] = request ? 8 : 0 } else { e[0] = request ? 128 : 129 }
        put16(&e, 4, id); put16(&e, 6, seq)
        e += [UInt8](repeating: 0x63, count: 16)
        return ip(from, to, proto: from.isV4 ? 1 : 58, transport: e, checksumAt: 2)
    }

    /// Destination unreachable (port unreachable) from `from` about `quoted` (a packet `to` sent).
    static func unreachable(_ from: IPAddress, _ to: IPAddress, quoting quoted: [UInt8]) -> [UInt8] {
        var e = [UInt8](repeating: 0, count: 8)
        if from.isV4 { e[0] = 3; e[1] = 3 } else { e[0] = 1; e[1] = 4 }
        e += quoted.prefix(from.isV4 ? 28 : 48)
        return ip(from, to, proto: from.isV4 ? 1 : 58, transport: e, checksumAt: 2)
    }

    /// IPv4 (no options) or IPv6 around `transport`, with the transport checksum filled in
    /// and, for IPv6, optional extension headers (each `(next-header value, bytes)`).
    static func ip(_ from: IPAddress, _ to: IPAddress, proto: UInt8, transport: [UInt8], checksumAt: Int?,
                   extensionHeaders: [(type: UInt8, bytes: [UInt8])] = [], fragmentOffset: UInt16 = 0) -> [UInt8] {
        var t = transport
        if let at = checksumAt {
            let pseudo = proto == 1 ? 0 : pseudoSum(from, to, proto: proto, length: t.count)
            put16(&t, at, ~fold(sum(t, initial: pseudo)))
        }
        if from.isV4 {
            var h = [UInt8](repeating: 0, count: 20)
            h[0] = 0x45
            put16(&h, 2, UInt16(20 + t.count))
            put16(&h, 6, fragmentOffset & 0x1FFF)
            h[8] = 64; h[9] = proto
            h.replaceSubrange(12..<16, with: from.networkBytes)
            h.replaceSubrange(16..<20, with: to.networkBytes)
            put16(&h, 10, ~fold(sum(h, initial: 0)))
            return h + t
        }
        var chain: [UInt8] = []
        let types = extensionHeaders.map(\.type) + [proto]
        for (i, x) in extensionHeaders.enumerated() {
            var b = x.bytes
            b[0] = types[i + 1]
            chain += b
        }
        var h = [UInt8](repeating: 0, count: 40)
        h[0] = 0x60
        put16(&h, 4, UInt16(chain.count + t.count))
        h[6] = types[0]; h[7] = 64
        h.replaceSubrange(8..<24, with: from.networkBytes)
        h.replaceSubrange(24..<40, with: to.networkBytes)
        return h + chain + t
    }

    /// An 8-byte hop-by-hop or destination options header (padding only).
    static let optionsHeader: [UInt8] = [0, 0, 1, 4, 0, 0, 0, 0]

    static func fragmentHeader(offset: UInt16, more: Bool) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 8)
        put16(&b, 2, offset << 3 | (more ? 1 : 0))
        put32(&b, 4, 0xABCD)
        return b
    }

    // MARK: checksums

    static func sum(_ bytes: [UInt8], initial: UInt32) -> UInt32 {
        var s = initial
        var i = 0
        while i < bytes.count {
            let high = UInt32(bytes[i]) << 8
            let low = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
            s += high | low
            s = (s & 0xFFFF) + (s >> 16)
            i += 2
        }
        return s
    }

    static func fold(_ s: UInt32) -> UInt16 {
        var v = s
        while v > 0xFFFF { v = (v & 0xFFFF) + (v >> 16) }
        return UInt16(v)
    }

    static func pseudoSum(_ from: IPAddress, _ to: IPAddress, proto: UInt8, length: Int) -> UInt32 {
        sum(from.networkBytes + to.networkBytes + [0, proto, UInt8(length >> 8), UInt8(length & 0xFF)], initial: 0)
    }

    /// Whether an IP packet's header checksum (IPv4) and transport checksum verify.
    static func checksumsVerify(_ p: [UInt8]) -> Bool {
        let v4 = p[0] >> 4 == 4
        let headerLength = v4 ? Int(p[0] & 0x0F) * 4 : 40
        if v4 && fold(sum(Array(p[0..<headerLength]), initial: 0)) != 0xFFFF { return false }
        let proto = v4 ? p[9] : p[6]
        let from = IPAddress(networkBytes: v4 ? p[12..<16] : p[8..<24])!
        let to = IPAddress(networkBytes: v4 ? p[16..<20] : p[24..<40])!
        let transport = Array(p[headerLength...])
        let pseudo = proto == 1 ? 0 : pseudoSum(from, to, proto: proto, length: transport.count)
        return fold(sum(transport, initial: pseudo)) == 0xFFFF
    }

    static func put16(_ b: inout [UInt8], _ at: Int, _ v: UInt16) {
        b[at] = UInt8(v >> 8); b[at + 1] = UInt8(v & 0xFF)
    }

    static func put32(_ b: inout [UInt8], _ at: Int, _ v: UInt32) {
        for i in 0..<4 { b[at + i] = UInt8((v >> (24 - 8 * UInt32(i))) & 0xFF) }
    }
}

extension PacketHeaders {
    static func of(_ packet: [UInt8]) -> PacketHeaders? {
        packet.withUnsafeBytes { PacketHeaders.parse($0) }
    }
}

extension PacketFilter {
    mutating func inbound(_ packet: [UInt8], at seconds: Int64 = 0) -> FilterDecision {
        packet.withUnsafeBytes { inbound($0, now: MonotonicTime(nanoseconds: seconds &* 1_000_000_000)) }
    }

    mutating func outbound(_ packet: [UInt8], at seconds: Int64 = 0) {
        packet.withUnsafeBytes { outbound($0, now: MonotonicTime(nanoseconds: seconds &* 1_000_000_000)) }
    }
}

extension FilterDecision {
    var reply: [UInt8]? {
        if case .dropAndReject(_, let reply) = self { return reply }
        return nil
    }

    var dropReason: FilterDropReason? {
        switch self {
        case .accept: return nil
        case .drop(let r), .dropAndReject(let r, _): return r
        }
    }
}
