import CSodium

public enum X25519 {
    public struct LowOrderPointError: Error, CustomStringConvertible {
        public var description: String { "X25519 produced the all-zero shared secret (low-order point)" }
    }

    public static func publicKey(of key: PrivateKey) -> PublicKey {
        var out = SIMD32<UInt8>()
        var k = key.bytes
        withUnsafeMutableBytes(of: &out) { o in
            withUnsafeBytes(of: &k) { kp in
                _ = crypto_scalarmult_base(o.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                           kp.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        return PublicKey(bytes: out)
    }

    /// Diffie-Hellman; refuses a low-order peer point as WireGuard requires.
    public static func sharedSecret(_ key: PrivateKey, _ peer: PublicKey) throws -> SIMD32<UInt8> {
        var out = SIMD32<UInt8>()
        var k = key.bytes, p = peer.bytes
        let rc = withUnsafeMutableBytes(of: &out) { o in
            withUnsafeBytes(of: &k) { kp in
                withUnsafeBytes(of: &p) { pp in
                    crypto_scalarmult(o.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                      kp.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                      pp.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        guard rc == 0, out != SIMD32<UInt8>() else { throw LowOrderPointError() }
        return out
    }
}
