/// BLAKE2s (RFC 7693): WireGuard's hash, MAC (mac1, keyed) and the basis of its HMAC/HKDF.
/// libsodium only ships BLAKE2b, so this is our own; it is checked against the RFC vectors and
/// Python's `hashlib.blake2s` in the tests.
///
/// The chaining state lives in eight stored words and the pending block in an inline SIMD
/// value, so hashing never touches the heap except for the returned digest; mac1 is computed
/// on every handshake message, including ones an attacker floods us with.
public struct BLAKE2s {
    public static let blockLength = 64
    public static let maxOutputLength = 32
    public static let maxKeyLength = 32

    private static let iv: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (
        0x6A09_E667, 0xBB67_AE85, 0x3C6E_F372, 0xA54F_F53A,
        0x510E_527F, 0x9B05_688C, 0x1F83_D9AB, 0x5BE0_CD19)

    private var h0, h1, h2, h3, h4, h5, h6, h7: UInt32
    /// Bytes hashed so far, counting the key block; RFC 7693 calls it t.
    private var byteCount: UInt64 = 0
    /// The final block must be compressed with the last-block flag, so a full block is held
    /// back until more input proves it is not the last one.
    private var pending = SIMD64<UInt8>()
    private var pendingCount = 0
    private let outputLength: Int

    public init(outputLength: Int = 32, key: [UInt8] = []) {
        precondition((1...BLAKE2s.maxOutputLength).contains(outputLength), "BLAKE2s output length must be 1...32")
        precondition(key.count <= BLAKE2s.maxKeyLength, "BLAKE2s key length must be 0...32")
        let iv = BLAKE2s.iv
        // Parameter block word 0: digest length, key length, fanout 1, depth 1 (sequential mode).
        h0 = iv.0 ^ 0x0101_0000 ^ (UInt32(key.count) << 8) ^ UInt32(outputLength)
        h1 = iv.1; h2 = iv.2; h3 = iv.3; h4 = iv.4; h5 = iv.5; h6 = iv.6; h7 = iv.7
        self.outputLength = outputLength
        if !key.isEmpty {
            // The key, zero-padded, is hashed as a whole first block.
            for (i, b) in key.enumerated() { pending[i] = b }
            pendingCount = BLAKE2s.blockLength
        }
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard var p = bytes.baseAddress, bytes.count > 0 else { return }
        var remaining = bytes.count
        while remaining > 0 {
            if pendingCount == BLAKE2s.blockLength {
                byteCount &+= UInt64(BLAKE2s.blockLength)
                let block = pending  // a copy: compress mutates self, which holds `pending`
                withUnsafeBytes(of: block) { compress($0.baseAddress!, isLast: false) }
                pendingCount = 0
            }
            if pendingCount == 0 {
                // Compress straight from the caller's memory, keeping the last block back.
                while remaining > BLAKE2s.blockLength {
                    byteCount &+= UInt64(BLAKE2s.blockLength)
                    compress(p, isLast: false)
                    p += BLAKE2s.blockLength
                    remaining -= BLAKE2s.blockLength
                }
            }
            let n = min(remaining, BLAKE2s.blockLength - pendingCount)
            let offset = pendingCount
            withUnsafeMutableBytes(of: &pending) { dst in
                (dst.baseAddress! + offset).copyMemory(from: p, byteCount: n)
            }
            pendingCount += n
            p += n
            remaining -= n
        }
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Returns the digest. The hasher is spent afterwards: it must not be updated or finalized again.
    public mutating func finalize() -> [UInt8] {
        byteCount &+= UInt64(pendingCount)
        for i in pendingCount..<BLAKE2s.blockLength { pending[i] = 0 }
        let block = pending
        withUnsafeBytes(of: block) { compress($0.baseAddress!, isLast: true) }
        pendingCount = 0
        let words = (h0.littleEndian, h1.littleEndian, h2.littleEndian, h3.littleEndian,
                     h4.littleEndian, h5.littleEndian, h6.littleEndian, h7.littleEndian)
        return withUnsafeBytes(of: words) { Array($0.prefix(outputLength)) }
    }

    public static func hash(_ data: [UInt8], key: [UInt8] = [], outputLength: Int = 32) -> [UInt8] {
        var hasher = BLAKE2s(outputLength: outputLength, key: key)
        hasher.update(data)
        return hasher.finalize()
    }

    /// Compression function F over one 64-byte block, fully unrolled so every word stays a
    /// local the optimiser can keep in registers.
    private mutating func compress(_ block: UnsafeRawPointer, isLast: Bool) {
        let iv = BLAKE2s.iv
        let m0 = loadWord(block, 0)
        let m1 = loadWord(block, 1)
        let m2 = loadWord(block, 2)
        let m3 = loadWord(block, 3)
        let m4 = loadWord(block, 4)
        let m5 = loadWord(block, 5)
        let m6 = loadWord(block, 6)
        let m7 = loadWord(block, 7)
        let m8 = loadWord(block, 8)
        let m9 = loadWord(block, 9)
        let m10 = loadWord(block, 10)
        let m11 = loadWord(block, 11)
        let m12 = loadWord(block, 12)
        let m13 = loadWord(block, 13)
        let m14 = loadWord(block, 14)
        let m15 = loadWord(block, 15)

        var v0 = h0, v1 = h1, v2 = h2, v3 = h3, v4 = h4, v5 = h5, v6 = h6, v7 = h7
        var v8 = iv.0, v9 = iv.1, v10 = iv.2, v11 = iv.3
        var v12 = iv.4 ^ UInt32(truncatingIfNeeded: byteCount)
        var v13 = iv.5 ^ UInt32(truncatingIfNeeded: byteCount &>> 32)
        var v14 = isLast ? ~iv.6 : iv.6
        var v15 = iv.7

        // Round 0: message schedule σ[0]
        g(&v0, &v4, &v8, &v12, m0, m1)
        g(&v1, &v5, &v9, &v13, m2, m3)
        g(&v2, &v6, &v10, &v14, m4, m5)
        g(&v3, &v7, &v11, &v15, m6, m7)
        g(&v0, &v5, &v10, &v15, m8, m9)
        g(&v1, &v6, &v11, &v12, m10, m11)
        g(&v2, &v7, &v8, &v13, m12, m13)
        g(&v3, &v4, &v9, &v14, m14, m15)
        // Round 1: message schedule σ[1]
        g(&v0, &v4, &v8, &v12, m14, m10)
        g(&v1, &v5, &v9, &v13, m4, m8)
        g(&v2, &v6, &v10, &v14, m9, m15)
        g(&v3, &v7, &v11, &v15, m13, m6)
        g(&v0, &v5, &v10, &v15, m1, m12)
        g(&v1, &v6, &v11, &v12, m0, m2)
        g(&v2, &v7, &v8, &v13, m11, m7)
        g(&v3, &v4, &v9, &v14, m5, m3)
        // Round 2: message schedule σ[2]
        g(&v0, &v4, &v8, &v12, m11, m8)
        g(&v1, &v5, &v9, &v13, m12, m0)
        g(&v2, &v6, &v10, &v14, m5, m2)
        g(&v3, &v7, &v11, &v15, m15, m13)
        g(&v0, &v5, &v10, &v15, m10, m14)
        g(&v1, &v6, &v11, &v12, m3, m6)
        g(&v2, &v7, &v8, &v13, m7, m1)
        g(&v3, &v4, &v9, &v14, m9, m4)
        // Round 3: message schedule σ[3]
        g(&v0, &v4, &v8, &v12, m7, m9)
        g(&v1, &v5, &v9, &v13, m3, m1)
        g(&v2, &v6, &v10, &v14, m13, m12)
        g(&v3, &v7, &v11, &v15, m11, m14)
        g(&v0, &v5, &v10, &v15, m2, m6)
        g(&v1, &v6, &v11, &v12, m5, m10)
        g(&v2, &v7, &v8, &v13, m4, m0)
        g(&v3, &v4, &v9, &v14, m15, m8)
        // Round 4: message schedule σ[4]
        g(&v0, &v4, &v8, &v12, m9, m0)
        g(&v1, &v5, &v9, &v13, m5, m7)
        g(&v2, &v6, &v10, &v14, m2, m4)
        g(&v3, &v7, &v11, &v15, m10, m15)
        g(&v0, &v5, &v10, &v15, m14, m1)
        g(&v1, &v6, &v11, &v12, m11, m12)
        g(&v2, &v7, &v8, &v13, m6, m8)
        g(&v3, &v4, &v9, &v14, m3, m13)
        // Round 5: message schedule σ[5]
        g(&v0, &v4, &v8, &v12, m2, m12)
        g(&v1, &v5, &v9, &v13, m6, m10)
        g(&v2, &v6, &v10, &v14, m0, m11)
        g(&v3, &v7, &v11, &v15, m8, m3)
        g(&v0, &v5, &v10, &v15, m4, m13)
        g(&v1, &v6, &v11, &v12, m7, m5)
        g(&v2, &v7, &v8, &v13, m15, m14)
        g(&v3, &v4, &v9, &v14, m1, m9)
        // Round 6: message schedule σ[6]
        g(&v0, &v4, &v8, &v12, m12, m5)
        g(&v1, &v5, &v9, &v13, m1, m15)
        g(&v2, &v6, &v10, &v14, m14, m13)
        g(&v3, &v7, &v11, &v15, m4, m10)
        g(&v0, &v5, &v10, &v15, m0, m7)
        g(&v1, &v6, &v11, &v12, m6, m3)
        g(&v2, &v7, &v8, &v13, m9, m2)
        g(&v3, &v4, &v9, &v14, m8, m11)
        // Round 7: message schedule σ[7]
        g(&v0, &v4, &v8, &v12, m13, m11)
        g(&v1, &v5, &v9, &v13, m7, m14)
        g(&v2, &v6, &v10, &v14, m12, m1)
        g(&v3, &v7, &v11, &v15, m3, m9)
        g(&v0, &v5, &v10, &v15, m5, m0)
        g(&v1, &v6, &v11, &v12, m15, m4)
        g(&v2, &v7, &v8, &v13, m8, m6)
        g(&v3, &v4, &v9, &v14, m2, m10)
        // Round 8: message schedule σ[8]
        g(&v0, &v4, &v8, &v12, m6, m15)
        g(&v1, &v5, &v9, &v13, m14, m9)
        g(&v2, &v6, &v10, &v14, m11, m3)
        g(&v3, &v7, &v11, &v15, m0, m8)
        g(&v0, &v5, &v10, &v15, m12, m2)
        g(&v1, &v6, &v11, &v12, m13, m7)
        g(&v2, &v7, &v8, &v13, m1, m4)
        g(&v3, &v4, &v9, &v14, m10, m5)
        // Round 9: message schedule σ[9]
        g(&v0, &v4, &v8, &v12, m10, m2)
        g(&v1, &v5, &v9, &v13, m8, m4)
        g(&v2, &v6, &v10, &v14, m7, m6)
        g(&v3, &v7, &v11, &v15, m1, m5)
        g(&v0, &v5, &v10, &v15, m15, m11)
        g(&v1, &v6, &v11, &v12, m9, m14)
        g(&v2, &v7, &v8, &v13, m3, m12)
        g(&v3, &v4, &v9, &v14, m13, m0)

        h0 ^= v0 ^ v8
        h1 ^= v1 ^ v9
        h2 ^= v2 ^ v10
        h3 ^= v3 ^ v11
        h4 ^= v4 ^ v12
        h5 ^= v5 ^ v13
        h6 ^= v6 ^ v14
        h7 ^= v7 ^ v15
    }
}

@inline(__always)
private func loadWord(_ block: UnsafeRawPointer, _ word: Int) -> UInt32 {
    UInt32(littleEndian: block.loadUnaligned(fromByteOffset: word &* 4, as: UInt32.self))
}

/// The mixing function G, with RFC 7693's rotations (16, 12, 8, 7).
@inline(__always)
private func g(_ a: inout UInt32, _ b: inout UInt32, _ c: inout UInt32, _ d: inout UInt32,
       _ x: UInt32, _ y: UInt32) {
    a = a &+ b &+ x
    d = rotateRight(d ^ a, 16)
    c = c &+ d
    b = rotateRight(b ^ c, 12)
    a = a &+ b &+ y
    d = rotateRight(d ^ a, 8)
    c = c &+ d
    b = rotateRight(b ^ c, 7)
}

@inline(__always)
private func rotateRight(_ x: UInt32, _ n: UInt32) -> UInt32 {
    (x &>> n) | (x &<< (32 &- n))
}
