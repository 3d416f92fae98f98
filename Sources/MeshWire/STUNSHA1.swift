/// SHA-1 (FIPS 180-4), needed only for STUN's MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 section
/// 14.5). libsodium has no SHA-1 and the node must not link BoringSSL, so this is our own; it is
/// checked against the FIPS vectors and Python's `hashlib.sha1` in the tests.
///
/// SHA-1 is broken for collision resistance; HMAC-SHA1 is still a sound MAC, and STUN is the
/// only user. Do not use this type for anything else.
public struct STUNSHA1: Sendable {
    public static let blockLength = 64
    public static let digestLength = 20

    private var h0: UInt32 = 0x6745_2301
    private var h1: UInt32 = 0xEFCD_AB89
    private var h2: UInt32 = 0x98BA_DCFE
    private var h3: UInt32 = 0x1032_5476
    private var h4: UInt32 = 0xC3D2_E1F0
    /// Total bytes fed in, for the final length field.
    private var byteCount: UInt64 = 0
    private var pending = [UInt8](repeating: 0, count: 64)
    private var pendingCount = 0

    public init() {}

    public static func hash(_ message: some Sequence<UInt8>) -> [UInt8] {
        var h = STUNSHA1()
        h.update(message)
        return h.finalize()
    }

    public mutating func update(_ bytes: some Sequence<UInt8>) {
        for b in bytes {
            pending[pendingCount] = b
            pendingCount += 1
            byteCount &+= 1
            if pendingCount == 64 {
                compressPending()
                pendingCount = 0
            }
        }
    }

    public consuming func finalize() -> [UInt8] {
        let bitLength = byteCount &* 8
        // 0x80, zeros to 56 mod 64, then the 64-bit big-endian bit length.
        var tail: [UInt8] = [0x80]
        let afterMarker = (pendingCount + 1) % 64
        let zeros = afterMarker <= 56 ? 56 - afterMarker : 120 - afterMarker
        tail += [UInt8](repeating: 0, count: zeros)
        for shift in stride(from: 56, through: 0, by: -8) { tail.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        let savedCount = byteCount
        update(tail)
        byteCount = savedCount
        precondition(pendingCount == 0)
        var out: [UInt8] = []
        out.reserveCapacity(20)
        for word in [h0, h1, h2, h3, h4] {
            out.append(UInt8(truncatingIfNeeded: word >> 24))
            out.append(UInt8(truncatingIfNeeded: word >> 16))
            out.append(UInt8(truncatingIfNeeded: word >> 8))
            out.append(UInt8(truncatingIfNeeded: word))
        }
        return out
    }

    private mutating func compressPending() {
        var w = [UInt32](repeating: 0, count: 80)
        for i in 0..<16 {
            w[i] = UInt32(pending[4 * i]) << 24 | UInt32(pending[4 * i + 1]) << 16
                | UInt32(pending[4 * i + 2]) << 8 | UInt32(pending[4 * i + 3])
        }
        for i in 16..<80 {
            let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
            w[i] = x << 1 | x >> 31
        }
        var a = h0, b = h1, c = h2, d = h3, e = h4
        for i in 0..<80 {
            let f: UInt32
            let k: UInt32
            switch i {
            case 0..<20: f = (b & c) | (~b & d); k = 0x5A82_7999
            case 20..<40: f = b ^ c ^ d; k = 0x6ED9_EBA1
            case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8F1B_BCDC
            default: f = b ^ c ^ d; k = 0xCA62_C1D6
            }
            let temp = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[i]
            e = d
            d = c
            c = b << 30 | b >> 2
            b = a
            a = temp
        }
        h0 &+= a; h1 &+= b; h2 &+= c; h3 &+= d; h4 &+= e
    }
}

/// HMAC-SHA1 (RFC 2104), the MAC of STUN's MESSAGE-INTEGRITY attribute.
public enum STUNHMACSHA1 {
    public static func authenticate(key: [UInt8], message: some Sequence<UInt8>) -> [UInt8] {
        var block = key.count > STUNSHA1.blockLength ? STUNSHA1.hash(key) : key
        block += [UInt8](repeating: 0, count: STUNSHA1.blockLength - block.count)
        var inner = STUNSHA1()
        inner.update(block.map { $0 ^ 0x36 })
        inner.update(message)
        let innerDigest = inner.finalize()
        var outer = STUNSHA1()
        outer.update(block.map { $0 ^ 0x5C })
        outer.update(innerDigest)
        return outer.finalize()
    }
}
