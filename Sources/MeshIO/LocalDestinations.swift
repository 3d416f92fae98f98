import Synchronization

/// The overlay addresses a packet from a peer may be addressed to: this node's own. The data
/// plane writes a decrypted packet to the TUN only if its destination is one of them, because
/// the kernel accepts on the TUN a packet for any address the host has: without this check a
/// peer could reach MagicDNS (100.100.100.100 is on the TUN too), or the host's LAN and
/// loopback-bound services, by putting their address in the destination. WireGuard's
/// cryptokey routing checks only the source.
///
/// Unset (standalone mode, whose AllowedIPs may route whole subnets through a gateway), it
/// admits everything. Set once before the data plane starts; read with relaxed atomics per
/// packet (no lock, no allocation).
public final class LocalDestinations: Sendable {
    private let ipv4 = Atomic<UInt32>(0)
    private let ipv6High = Atomic<UInt64>(0)
    private let ipv6Low = Atomic<UInt64>(0)
    /// Bit 0: enforcing; bit 1: an IPv4 address is set; bit 2: an IPv6 address is set.
    private let state = Atomic<UInt8>(0)

    public init() {}

    /// This node's addresses as network-order bytes (4 and 16); nil for a family it has not.
    public func set(ipv4 v4: [UInt8]?, ipv6 v6: [UInt8]?) {
        var flags: UInt8 = 1
        if let v4, v4.count == 4 {
            ipv4.store(v4.reduce(0) { $0 << 8 | UInt32($1) }, ordering: .relaxed)
            flags |= 2
        }
        if let v6, v6.count == 16 {
            ipv6High.store(v6[0..<8].reduce(0) { $0 << 8 | UInt64($1) }, ordering: .relaxed)
            ipv6Low.store(v6[8..<16].reduce(0) { $0 << 8 | UInt64($1) }, ordering: .relaxed)
            flags |= 4
        }
        state.store(flags, ordering: .releasing)
    }

    @inline(__always)
    public var isEnforcing: Bool { state.load(ordering: .relaxed) & 1 != 0 }

    /// Whether `packet` (an IP packet as decrypted) is addressed to this node.
    @inline(__always)
    public func admits(_ packet: UnsafeRawBufferPointer) -> Bool {
        let flags = state.load(ordering: .acquiring)
        guard flags & 1 != 0 else { return true }
        guard packet.count >= 20 else { return false }
        switch packet[0] >> 4 {
        case 4:
            guard flags & 2 != 0 else { return false }
            let d = UInt32(packet[16]) << 24 | UInt32(packet[17]) << 16 | UInt32(packet[18]) << 8 | UInt32(packet[19])
            return d == ipv4.load(ordering: .relaxed)
        case 6:
            guard flags & 4 != 0, packet.count >= 40 else { return false }
            var high: UInt64 = 0, low: UInt64 = 0
            for i in 24..<32 { high = high << 8 | UInt64(packet[i]) }
            for i in 32..<40 { low = low << 8 | UInt64(packet[i]) }
            return high == ipv6High.load(ordering: .relaxed) && low == ipv6Low.load(ordering: .relaxed)
        default:
            return false
        }
    }
}
