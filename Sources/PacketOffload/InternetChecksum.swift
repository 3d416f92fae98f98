/// The Internet checksum (RFC 1071) over IP, TCP and UDP headers and payloads. Summed in host
/// order eight bytes at a time (RFC 1071 §2(B): byte order does not matter until the fold),
/// since the tunnel computes one per segment it splits, at line rate.
public enum InternetChecksum {
    /// The 16-bit one's-complement sum of `count` bytes at `bytes`, added to `initial`, not
    /// complemented, in host byte order (store it with `storeBytes` as it is).
    @inline(__always)
    public static func sum(_ bytes: UnsafeRawPointer, count: Int, initial: UInt64 = 0) -> UInt64 {
        var acc = initial
        var i = 0
        while i + 8 <= count {
            let (s, o) = acc.addingReportingOverflow(bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            acc = s &+ (o ? 1 : 0)
            i += 8
        }
        if i + 4 <= count {
            let (s, o) = acc.addingReportingOverflow(UInt64(bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
            acc = s &+ (o ? 1 : 0)
            i += 4
        }
        if i + 2 <= count {
            let (s, o) = acc.addingReportingOverflow(UInt64(bytes.loadUnaligned(fromByteOffset: i, as: UInt16.self)))
            acc = s &+ (o ? 1 : 0)
            i += 2
        }
        if i < count {
            // The odd last byte is the high-order byte of a zero-padded big-endian word: in
            // little-endian host order that is the low byte.
            let (s, o) = acc.addingReportingOverflow(UInt64(bytes.load(fromByteOffset: i, as: UInt8.self)))
            acc = s &+ (o ? 1 : 0)
        }
        return acc
    }

    /// Folds a running sum to 16 bits (host order), not complemented.
    @inline(__always)
    public static func fold(_ sum: UInt64) -> UInt16 {
        var s = (sum & 0xffff_ffff) &+ (sum >> 32)
        s = (s & 0xffff_ffff) &+ (s >> 32)
        s = (s & 0xffff) &+ (s >> 16)
        s = (s & 0xffff) &+ (s >> 16)
        s = (s & 0xffff) &+ (s >> 16)
        return UInt16(truncatingIfNeeded: s)
    }

    /// The TCP/UDP pseudo-header's sum (RFC 793 / RFC 8200 §8.1): addresses, protocol and
    /// transport length. `ip` points at the IP header; the addresses are read from it.
    @inline(__always)
    public static func pseudoHeaderSum(ip: UnsafeRawPointer, version: Int, protocolNumber: UInt8, transportLength: Int) -> UInt64 {
        let addresses = version == 4 ? sum(ip + 12, count: 8) : sum(ip + 8, count: 32)
        let proto = UInt64(UInt16(protocolNumber).bigEndian)
        let length = UInt64(UInt16(truncatingIfNeeded: transportLength).bigEndian)
        return addresses &+ proto &+ length
    }

    /// Computes and stores the IPv4 header checksum of the header at `ip` (`length` bytes).
    @inline(__always)
    public static func setIPv4HeaderChecksum(_ ip: UnsafeMutableRawPointer, headerLength: Int) {
        ip.storeBytes(of: 0, toByteOffset: 10, as: UInt16.self)
        ip.storeBytes(of: ~fold(sum(ip, count: headerLength)), toByteOffset: 10, as: UInt16.self)
    }
}
