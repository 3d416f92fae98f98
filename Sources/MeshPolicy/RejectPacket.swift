import MeshBase

/// Answers to refused packets, as IP packets to write back towards the sender, so its
/// connection attempt fails at once instead of timing out.
package enum RejectPacket {
    /// Whether a refused packet may be answered at all: not one sent from or to a multicast,
    /// broadcast, unspecified or loopback address (RFC 1122 3.2.2, RFC 4443 2.4: errors go to
    /// one unicast sender, never to a group, and never about a group's packet).
    package static func mayAnswer(_ h: PacketHeaders) -> Bool {
        isUnicast(h.source) && isUnicast(h.destination)
    }

    package static func isUnicast(_ a: IPAddress) -> Bool {
        switch a {
        case .v4(let v):
            // 0/8 (this network), 127/8 (loopback), 224/4 (multicast) and 240/4 with the
            // limited broadcast.
            let first = v >> 24
            return first != 0 && first != 127 && first < 224
        case .v6(let high, let low):
            if high >> 56 == 0xFF { return false }  // ff00::/8 multicast
            if high == 0 && (low == 0 || low == 1) { return false }  // :: and ::1
            return true
        }
    }

    /// A TCP RST for `h` (RFC 9293 3.10.7.1): with the segment's ACK as our sequence number if
    /// it had one, else an ACK of everything it occupied.
    package static func tcpReset(for h: PacketHeaders) -> [UInt8] {
        var tcp = [UInt8](repeating: 0, count: 20)
        put16(&tcp, 0, h.destinationPort)
        put16(&tcp, 2, h.sourcePort)
        if h.tcpFlags & PacketHeaders.tcpACK != 0 {
            put32(&tcp, 4, h.tcpAcknowledgment)
            tcp[13] = PacketHeaders.tcpRST
        } else {
            var occupied = UInt32(truncatingIfNeeded: h.tcpPayloadLength)
            if h.tcpFlags & PacketHeaders.tcpSYN != 0 { occupied &+= 1 }
            if h.tcpFlags & PacketHeaders.tcpFIN != 0 { occupied &+= 1 }
            put32(&tcp, 8, h.tcpSequence &+ occupied)
            tcp[13] = PacketHeaders.tcpRST | PacketHeaders.tcpACK
        }
        tcp[12] = 5 << 4
        return ipPacket(from: h.destination, to: h.source, proto: IPProtocolNumber.tcp, payload: tcp, checksumAt: 16)
    }

    /// ICMP "communication administratively prohibited" (v4 type 3 code 13, RFC 1812; v6 type 1
    /// code 1, RFC 4443), quoting the refused packet's IP header and first 8 transport bytes,
    /// so the answer is never much larger than the packet it answers. An IPv6 quote stops where
    /// the answer would pass the minimum MTU (RFC 4443 2.4(c): 1280 bytes), however long the
    /// refused packet's extension headers are.
    package static let maxICMPv6ErrorBytes = 1280

    package static func icmpProhibited(for h: PacketHeaders, packet: UnsafeRawBufferPointer) -> [UInt8] {
        icmpUnreachable(.administrativelyProhibited, for: h, packet: packet)
    }

    /// Which destination unreachable an ICMP answer says.
    package enum Unreachable: Sendable {
        /// A policy refuses it: v4 type 3 code 13, v6 type 1 code 1.
        case administrativelyProhibited
        /// No such host (or we cannot tell why): v4 type 3 code 1 (host unreachable), v6 type 1
        /// code 3 (address unreachable).
        case hostUnreachable

        var codes: (v4: UInt8, v6: UInt8) {
            switch self {
            case .administrativelyProhibited: (13, 1)
            case .hostUnreachable: (1, 3)
            }
        }
    }

    /// ICMP destination unreachable (`kind`) for `h`, from its destination to its source,
    /// quoting it as `icmpProhibited` does.
    package static func icmpUnreachable(_ kind: Unreachable, for h: PacketHeaders, packet: UnsafeRawBufferPointer) -> [UInt8] {
        let quoteLimit = h.isV6 ? maxICMPv6ErrorBytes - 40 - 8 : Int.max
        let quoteLength = min(h.length, h.transportOffset + 8, packet.count, quoteLimit)
        var icmp = [UInt8](repeating: 0, count: 8)
        if h.isV6 { icmp[0] = 1; icmp[1] = kind.codes.v6 } else { icmp[0] = 3; icmp[1] = kind.codes.v4 }
        icmp.append(contentsOf: UnsafeRawBufferPointer(rebasing: packet[0..<quoteLength]))
        return ipPacket(from: h.destination, to: h.source, proto: h.isV6 ? IPProtocolNumber.icmpv6 : IPProtocolNumber.icmp,
                        payload: icmp, checksumAt: 2)
    }

    /// Wraps a transport payload in an IPv4 or IPv6 header and fills in its checksum (at
    /// `checksumAt` in the payload). ICMPv4's checksum has no pseudo-header; TCP's and
    /// ICMPv6's do.
    static func ipPacket(from source: IPAddress, to destination: IPAddress, proto: UInt8, payload: [UInt8],
                         checksumAt: Int) -> [UInt8] {
        var transport = payload
        let pseudo = proto != IPProtocolNumber.icmp
        var sum: UInt32 = pseudo ? pseudoHeaderSum(source, destination, proto: proto, length: transport.count) : 0
        sum = onesComplementSum(transport, initial: sum)
        put16(&transport, checksumAt, ~fold(sum))
        var ip: [UInt8]
        if source.isV4 {
            ip = [UInt8](repeating: 0, count: 20)
            ip[0] = 0x45
            put16(&ip, 2, UInt16(truncatingIfNeeded: 20 + transport.count))
            ip[8] = 64
            ip[9] = proto
            ip.replaceSubrange(12..<16, with: source.networkBytes)
            ip.replaceSubrange(16..<20, with: destination.networkBytes)
            put16(&ip, 10, ~fold(onesComplementSum(ip, initial: 0)))
        } else {
            ip = [UInt8](repeating: 0, count: 40)
            ip[0] = 0x60
            put16(&ip, 4, UInt16(truncatingIfNeeded: transport.count))
            ip[6] = proto
            ip[7] = 64
            ip.replaceSubrange(8..<24, with: source.networkBytes)
            ip.replaceSubrange(24..<40, with: destination.networkBytes)
        }
        return ip + transport
    }

    static func pseudoHeaderSum(_ source: IPAddress, _ destination: IPAddress, proto: UInt8, length: Int) -> UInt32 {
        var sum = onesComplementSum(source.networkBytes, initial: 0)
        sum = onesComplementSum(destination.networkBytes, initial: sum)
        sum += UInt32(proto)
        sum += UInt32(truncatingIfNeeded: length >> 16) + UInt32(truncatingIfNeeded: length & 0xFFFF)
        return sum
    }

    static func onesComplementSum(_ bytes: [UInt8], initial: UInt32) -> UInt32 {
        var sum = initial
        var i = 0
        while i + 1 < bytes.count {
            sum = UInt32(fold(sum)) + (UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1]))
            i += 2
        }
        if i < bytes.count { sum = UInt32(fold(sum)) + UInt32(bytes[i]) << 8 }
        return sum
    }

    static func fold(_ sum: UInt32) -> UInt16 {
        var s = sum
        while s > 0xFFFF { s = (s & 0xFFFF) + (s >> 16) }
        return UInt16(s)
    }

    static func put16(_ b: inout [UInt8], _ at: Int, _ v: UInt16) {
        b[at] = UInt8(v >> 8); b[at + 1] = UInt8(truncatingIfNeeded: v)
    }

    static func put32(_ b: inout [UInt8], _ at: Int, _ v: UInt32) {
        b[at] = UInt8(v >> 24); b[at + 1] = UInt8(truncatingIfNeeded: v >> 16)
        b[at + 2] = UInt8(truncatingIfNeeded: v >> 8); b[at + 3] = UInt8(truncatingIfNeeded: v)
    }
}
