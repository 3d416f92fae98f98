import MeshBase

/// The fields of an IP packet the filter decides on, read in place from the packet's bytes
/// (a value type with no heap storage: parsing never allocates). The project had no transport
/// header parser (WireGuard reads only the IP version, length and addresses), so this is it.
public struct PacketHeaders: Sendable, Equatable {
    public var source: IPAddress
    public var destination: IPAddress
    /// The transport protocol after any IPv6 extension headers.
    public var proto: UInt8
    /// TCP/UDP/SCTP ports; for ICMP echo both are the echo identifier.
    public var sourcePort: UInt16 = 0
    public var destinationPort: UInt16 = 0
    public var tcpFlags: UInt8 = 0
    public var tcpSequence: UInt32 = 0
    public var tcpAcknowledgment: UInt32 = 0
    public var icmpType: UInt8 = 0
    public var icmpCode: UInt8 = 0
    /// A fragment other than the first: no transport header to check.
    public var isLaterFragment = false
    /// Bytes of IP header (with extension headers) before the transport header.
    public var transportOffset: Int
    /// Bytes of the packet as its IP header counts them (trailing link padding excluded).
    public var length: Int
    /// For TCP: bytes of payload after the TCP header (sequence space for a reset's ack).
    public var tcpPayloadLength: Int = 0
    /// For ICMP errors: the packet they are about, as we sent it (source = us).
    public var quoted: QuotedPacket?

    public struct QuotedPacket: Sendable, Equatable {
        public var source: IPAddress
        public var destination: IPAddress
        public var proto: UInt8
        public var sourcePort: UInt16
        public var destinationPort: UInt16
    }

    public static let tcpFIN: UInt8 = 0x01
    public static let tcpSYN: UInt8 = 0x02
    public static let tcpRST: UInt8 = 0x04
    public static let tcpACK: UInt8 = 0x10

    public var isV6: Bool { !source.isV4 }
    /// A TCP segment that opens a connection (SYN without ACK).
    public var isTCPOpen: Bool { proto == IPProtocolNumber.tcp && tcpFlags & (Self.tcpSYN | Self.tcpACK) == Self.tcpSYN }

    /// nil for anything malformed: a truncated or inconsistent header, an unknown IP version.
    public static func parse(_ packet: UnsafeRawBufferPointer) -> PacketHeaders? {
        guard packet.count >= 1 else { return nil }
        switch packet[0] >> 4 {
        case 4: return parseV4(packet)
        case 6: return parseV6(packet)
        default: return nil
        }
    }

    static func parseV4(_ p: UnsafeRawBufferPointer) -> PacketHeaders? {
        guard p.count >= 20 else { return nil }
        let headerLength = Int(p[0] & 0x0F) * 4
        let total = Int(be16(p, 2))
        guard headerLength >= 20, total >= headerLength, total <= p.count else { return nil }
        var h = PacketHeaders(source: .v4(be32(p, 12)), destination: .v4(be32(p, 16)), proto: p[9],
                              transportOffset: headerLength, length: total)
        let fragmentOffset = be16(p, 6) & 0x1FFF
        if fragmentOffset != 0 {
            h.isLaterFragment = true
            return h
        }
        return h.readTransport(p, icmpProto: IPProtocolNumber.icmp) ? h : nil
    }

    static func parseV6(_ p: UnsafeRawBufferPointer) -> PacketHeaders? {
        guard p.count >= 40 else { return nil }
        let total = 40 + Int(be16(p, 4))
        guard total <= p.count else { return nil }
        var h = PacketHeaders(source: v6(p, 8), destination: v6(p, 24), proto: p[6], transportOffset: 40, length: total)
        // At most 8 extension headers, then the transport header (a longer chain is not a
        // real packet but an attempt to make the filter walk).
        for _ in 0...8 {
            switch h.proto {
            case 0, 43, 60:  // hop-by-hop, routing, destination options
                guard h.transportOffset + 8 <= total else { return nil }
                let next = p[h.transportOffset]
                h.transportOffset += (Int(p[h.transportOffset + 1]) + 1) * 8
                h.proto = next
                guard h.transportOffset <= total else { return nil }
            case 44:  // fragment
                guard h.transportOffset + 8 <= total else { return nil }
                let next = p[h.transportOffset]
                let offset = be16(p, h.transportOffset + 2) >> 3
                h.transportOffset += 8
                h.proto = next
                if offset != 0 {
                    h.isLaterFragment = true
                    return h
                }
            default:
                return h.readTransport(p, icmpProto: IPProtocolNumber.icmpv6) ? h : nil
            }
        }
        return nil
    }

    /// Reads ports, flags or ICMP fields; false when the header the protocol needs is cut short.
    mutating func readTransport(_ p: UnsafeRawBufferPointer, icmpProto: UInt8) -> Bool {
        let t = transportOffset, available = length - transportOffset
        switch proto {
        case IPProtocolNumber.tcp:
            guard available >= 20 else { return false }
            let dataOffset = Int(p[t + 12] >> 4) * 4
            guard dataOffset >= 20, dataOffset <= available else { return false }
            sourcePort = Self.be16(p, t)
            destinationPort = Self.be16(p, t + 2)
            tcpSequence = Self.be32(p, t + 4)
            tcpAcknowledgment = Self.be32(p, t + 8)
            tcpFlags = p[t + 13]
            tcpPayloadLength = available - dataOffset
        case IPProtocolNumber.udp, IPProtocolNumber.sctp:
            guard available >= 8 else { return false }
            sourcePort = Self.be16(p, t)
            destinationPort = Self.be16(p, t + 2)
        case icmpProto:
            guard available >= 8 else { return false }
            icmpType = p[t]
            icmpCode = p[t + 1]
            if isEcho {
                sourcePort = Self.be16(p, t + 4)
                destinationPort = sourcePort
            } else if isICMPError {
                quoted = Self.parseQuoted(UnsafeRawBufferPointer(rebasing: p[(t + 8)..<length]))
            }
        default:
            break
        }
        return true
    }

    public var isICMP: Bool { proto == IPProtocolNumber.icmp || proto == IPProtocolNumber.icmpv6 }

    public var isEchoRequest: Bool {
        (proto == IPProtocolNumber.icmp && icmpType == 8) || (proto == IPProtocolNumber.icmpv6 && icmpType == 128)
    }

    public var isEchoReply: Bool {
        (proto == IPProtocolNumber.icmp && icmpType == 0) || (proto == IPProtocolNumber.icmpv6 && icmpType == 129)
    }

    var isEcho: Bool { isEchoRequest || isEchoReply }

    /// Destination unreachable, time exceeded and the like: they quote a packet we sent.
    public var isICMPError: Bool {
        switch proto {
        case IPProtocolNumber.icmp:
            switch icmpType {
            case 3, 4, 5, 11, 12: return true
            default: return false
            }
        case IPProtocolNumber.icmpv6: return (1...4).contains(icmpType)
        default: return false
        }
    }

    /// The quoted header of an ICMP error: the IP header and at least the first 8 transport
    /// bytes (ports, or an echo's identifier). IPv6 extension headers in quotes are not walked.
    static func parseQuoted(_ q: UnsafeRawBufferPointer) -> QuotedPacket? {
        guard q.count >= 1 else { return nil }
        let source: IPAddress, destination: IPAddress, proto: UInt8, t: Int
        switch q[0] >> 4 {
        case 4:
            guard q.count >= 20 else { return nil }
            t = Int(q[0] & 0x0F) * 4
            guard t >= 20, be16(q, 6) & 0x1FFF == 0 else { return nil }
            source = .v4(be32(q, 12)); destination = .v4(be32(q, 16)); proto = q[9]
        case 6:
            guard q.count >= 40 else { return nil }
            t = 40
            source = v6(q, 8); destination = v6(q, 24); proto = q[6]
        default:
            return nil
        }
        guard q.count >= t + 8 else { return nil }
        var sp: UInt16 = 0, dp: UInt16 = 0
        switch proto {
        case IPProtocolNumber.tcp, IPProtocolNumber.udp, IPProtocolNumber.sctp:
            sp = be16(q, t); dp = be16(q, t + 2)
        case IPProtocolNumber.icmp where q[t] == 8, IPProtocolNumber.icmpv6 where q[t] == 128:
            sp = be16(q, t + 4); dp = sp
        default:
            break
        }
        return QuotedPacket(source: source, destination: destination, proto: proto, sourcePort: sp, destinationPort: dp)
    }

    @inline(__always) static func be16(_ p: UnsafeRawBufferPointer, _ at: Int) -> UInt16 {
        UInt16(p[at]) << 8 | UInt16(p[at + 1])
    }

    @inline(__always) static func be32(_ p: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        UInt32(p[at]) << 24 | UInt32(p[at + 1]) << 16 | UInt32(p[at + 2]) << 8 | UInt32(p[at + 3])
    }

    @inline(__always) static func v6(_ p: UnsafeRawBufferPointer, _ at: Int) -> IPAddress {
        var high: UInt64 = 0, low: UInt64 = 0
        for i in 0..<8 { high = high << 8 | UInt64(p[at + i]) }
        for i in 8..<16 { low = low << 8 | UInt64(p[at + i]) }
        return .v6(high: high, low: low)
    }
}
