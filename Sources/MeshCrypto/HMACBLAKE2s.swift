/// HMAC (RFC 2104) over BLAKE2s-256 with BLAKE2s's 64-byte block, as the WireGuard handshake
/// uses it inside its KDF. WireGuard deliberately uses HMAC here rather than BLAKE2s's own
/// keyed mode, so this must match the textbook construction exactly.
public enum HMACBLAKE2s {
    public static let blockLength = 64

    public static func authenticate(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var block = SIMD64<UInt8>()
        let shortKey = key.count > blockLength ? BLAKE2s.hash(key) : key
        for (i, b) in shortKey.enumerated() { block[i] = b }

        var inner = BLAKE2s()
        withUnsafeBytes(of: block ^ SIMD64(repeating: 0x36)) { inner.update($0) }
        inner.update(message)
        let innerDigest = inner.finalize()

        var outer = BLAKE2s()
        withUnsafeBytes(of: block ^ SIMD64(repeating: 0x5C)) { outer.update($0) }
        outer.update(innerDigest)
        return outer.finalize()
    }
}
