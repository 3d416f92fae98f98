/// Whether a packet read from the TUN opens a TCP connection (SYN without ACK), read from a
/// few header bytes without the full parse.
///
/// Why: without a policy the data plane keeps its flow table up to date only with the
/// connections this node opens, so that when a first policy arrives the replies to them pass
/// (a TCP reply cannot reopen its flow by itself, while our next UDP datagram or echo request
/// does). This test runs on every packet read from the TUN in that mode, so it reads at most
/// four bytes of an IPv4 or IPv6 header and the TCP flags; an IPv6 packet whose first next
/// header is an extension header (rare) takes the full parse.
public enum OutboundConnectionStart {
    @inlinable @inline(__always)
    public static func isTCPOpen(_ p: UnsafeRawBufferPointer) -> Bool {
        guard p.count >= 40 else { return false }  // 20-byte IPv4 header + 20-byte TCP header at least
        let flagsMask = PacketHeaders.tcpSYN | PacketHeaders.tcpACK
        switch p[0] >> 4 {
        case 4:
            // TCP, first fragment (offset 0), flags within the buffer.
            let headerWords = Int(p[0] & 0x0F)
            guard headerWords >= 5, p[9] == IPProtocolNumber.tcp, p[6] & 0x1F == 0, p[7] == 0 else { return false }
            let flagsAt = headerWords &* 4 &+ 13
            return flagsAt < p.count && p[flagsAt] & flagsMask == PacketHeaders.tcpSYN
        case 6:
            switch p[6] {
            case IPProtocolNumber.tcp:
                return p.count >= 60 && p[53] & flagsMask == PacketHeaders.tcpSYN
            case 0, 43, 44, 60:
                return PacketHeaders.parse(p)?.isTCPOpen == true
            default:
                return false
            }
        default:
            return false
        }
    }
}
