import CSodium

/// libsodium's `crypto_box` (X25519 + XSalsa20-Poly1305) with a 24-byte nonce: the public-key
/// authenticated encryption used by the control protocol (node key ↔ coordinator key) and disco.
///
/// The caller supplies the nonce (this module draws no randomness); a nonce must never repeat
/// for the same key pair, so callers use 24 random bytes.
public enum Box {
    public static let nonceLength = 24
    public static let tagLength = 16

    /// `crypto_box_easy`: returns tag + ciphertext (plaintext.count + 16 bytes), or nil when the
    /// recipient key is a low-order point.
    public static func seal(_ plaintext: [UInt8], nonce: [UInt8], to recipient: PublicKey,
                            from sender: PrivateKey) -> [UInt8]? {
        precondition(nonce.count == nonceLength, "crypto_box nonce must be 24 bytes")
        var out = [UInt8](repeating: 0, count: plaintext.count + tagLength)
        let rc = recipient.withUnsafeBytes { pk in
            sender.withUnsafeBytes { sk in
                crypto_box_easy(&out, plaintext, UInt64(plaintext.count), nonce,
                                pk.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        return rc == 0 ? out : nil
    }

    /// `crypto_box_open_easy`: returns the plaintext, or nil when authentication fails.
    public static func open(_ box: [UInt8], nonce: [UInt8], from sender: PublicKey,
                            to recipient: PrivateKey) -> [UInt8]? {
        guard nonce.count == nonceLength, box.count >= tagLength else { return nil }
        var out = [UInt8](repeating: 0, count: box.count - tagLength)
        let rc = sender.withUnsafeBytes { pk in
            recipient.withUnsafeBytes { sk in
                crypto_box_open_easy(&out, box, UInt64(box.count), nonce,
                                     pk.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                     sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        return rc == 0 ? out : nil
    }

    /// The precomputed shared key of a key pair (`crypto_box_beforenm`), so a server answering
    /// many requests from one peer pays for X25519 once. Equal to what `seal`/`open` derive.
    ///
    /// Stored as four words rather than a SIMD vector: SIMD-bearing values kept across `await`
    /// in async frames hit a miscompile (heap overflow past the task's frame) with Swift 6.3.1.
    public struct SharedKey: Sendable {
        let bytes: (UInt64, UInt64, UInt64, UInt64)

        /// Nil when the peer key is a low-order point (the shared secret would be all zeros).
        public init?(peer: PublicKey, own: PrivateKey) {
            var k: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
            let rc = withUnsafeMutableBytes(of: &k) { kp in
                peer.withUnsafeBytes { pk in
                    own.withUnsafeBytes { sk in
                        crypto_box_beforenm(kp.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                            pk.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                            sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
            guard rc == 0 else { return nil }
            bytes = k
        }

        /// `crypto_box_easy_afternm`.
        public func seal(_ plaintext: [UInt8], nonce: [UInt8]) -> [UInt8] {
            precondition(nonce.count == Box.nonceLength, "crypto_box nonce must be 24 bytes")
            var out = [UInt8](repeating: 0, count: plaintext.count + Box.tagLength)
            var k = bytes
            _ = withUnsafeBytes(of: &k) { kp in
                crypto_box_easy_afternm(&out, plaintext, UInt64(plaintext.count), nonce,
                                        kp.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            return out
        }

        /// `crypto_box_open_easy_afternm`: nil when authentication fails.
        public func open(_ box: [UInt8], nonce: [UInt8]) -> [UInt8]? {
            guard nonce.count == Box.nonceLength, box.count >= Box.tagLength else { return nil }
            var out = [UInt8](repeating: 0, count: box.count - Box.tagLength)
            var k = bytes
            let rc = withUnsafeBytes(of: &k) { kp in
                crypto_box_open_easy_afternm(&out, box, UInt64(box.count), nonce,
                                             kp.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            return rc == 0 ? out : nil
        }
    }
}
