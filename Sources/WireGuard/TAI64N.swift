/// The 12-byte TAI64N timestamp sealed into every initiation; a responder accepts an
/// initiation only if its timestamp is newer than the last one seen from that peer, which
/// is what stops a recorded initiation from being replayed.
public struct TAI64N: Comparable, Sendable {
    public var bytes: (UInt64, UInt32)  // big-endian seconds label, nanoseconds

    public init(unixSeconds: Int64, nanoseconds: Int32) {
        bytes = (UInt64(bitPattern: unixSeconds) &+ 0x4000_0000_0000_000A, UInt32(nanoseconds))
    }

    public init?(encoded: some Collection<UInt8>) {
        guard encoded.count == 12 else { return nil }
        var s: UInt64 = 0, n: UInt32 = 0
        for (i, b) in encoded.enumerated() {
            if i < 8 { s = s << 8 | UInt64(b) } else { n = n << 8 | UInt32(b) }
        }
        bytes = (s, n)
    }

    public var encoded: [UInt8] {
        var out = [UInt8](repeating: 0, count: 12)
        for i in 0..<8 { out[i] = UInt8(truncatingIfNeeded: bytes.0 >> (56 - 8 * UInt64(i))) }
        for i in 0..<4 { out[8 + i] = UInt8(truncatingIfNeeded: bytes.1 >> (24 - 8 * UInt32(i))) }
        return out
    }

    public static func < (a: Self, b: Self) -> Bool { a.bytes.0 != b.bytes.0 ? a.bytes.0 < b.bytes.0 : a.bytes.1 < b.bytes.1 }
    public static func == (a: Self, b: Self) -> Bool { a.bytes.0 == b.bytes.0 && a.bytes.1 == b.bytes.1 }
    public static let zero = TAI64N(raw: (0, 0))
    init(raw: (UInt64, UInt32)) { bytes = raw }
}
