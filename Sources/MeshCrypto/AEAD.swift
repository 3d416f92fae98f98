import CSodium

/// ChaCha20-Poly1305 (IETF, 96-bit nonce) as WireGuard uses it: nonce = 4 zero bytes then a
/// 64-bit little-endian counter. Works in place on caller buffers: no allocation per packet.
public enum ChaChaPoly {
    public static let tagLength = 16

    /// Three 32-bit words so the tuple is exactly 12 bytes with no padding inside.
    @inline(__always)
    static func nonce(_ counter: UInt64) -> (UInt32, UInt32, UInt32) {
        (0, UInt32(truncatingIfNeeded: counter).littleEndian, UInt32(truncatingIfNeeded: counter >> 32).littleEndian)
    }

    /// Encrypts `length` bytes at `buffer` in place and appends the 16-byte tag right after.
    @inline(__always)
    public static func sealInPlace(key: UnsafeRawPointer, counter: UInt64,
                                   buffer: UnsafeMutableRawPointer, length: Int,
                                   ad: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)) {
        var n = nonce(counter)
        withUnsafeBytes(of: &n) { np in
            let p = buffer.assumingMemoryBound(to: UInt8.self)
            _ = crypto_aead_chacha20poly1305_ietf_encrypt_detached(
                p, p + length, nil, p, UInt64(length),
                ad.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(ad.count), nil,
                np.baseAddress!.assumingMemoryBound(to: UInt8.self),
                key.assumingMemoryBound(to: UInt8.self))
        }
    }

    /// Verifies and decrypts `length` bytes (ciphertext + tag) in place. Returns the plaintext
    /// length, or nil when authentication fails.
    @inline(__always)
    public static func openInPlace(key: UnsafeRawPointer, counter: UInt64,
                                   buffer: UnsafeMutableRawPointer, length: Int,
                                   ad: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)) -> Int? {
        guard length >= tagLength else { return nil }
        var n = nonce(counter)
        let plainLength = length - tagLength
        let rc = withUnsafeBytes(of: &n) { np in
            let p = buffer.assumingMemoryBound(to: UInt8.self)
            return crypto_aead_chacha20poly1305_ietf_decrypt_detached(
                p, nil, p, UInt64(plainLength), p + plainLength,
                ad.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(ad.count),
                np.baseAddress!.assumingMemoryBound(to: UInt8.self),
                key.assumingMemoryBound(to: UInt8.self))
        }
        return rc == 0 ? plainLength : nil
    }

    /// Convenience for the handshake (allocation is fine there): returns ciphertext + tag.
    public static func seal(key: SIMD32<UInt8>, counter: UInt64, plaintext: [UInt8], ad: [UInt8]) -> [UInt8] {
        var out = plaintext + [UInt8](repeating: 0, count: tagLength)
        var k = key
        withUnsafeBytes(of: &k) { kp in
            out.withUnsafeMutableBytes { o in
                ad.withUnsafeBytes { a in
                    sealInPlace(key: kp.baseAddress!, counter: counter, buffer: o.baseAddress!,
                                length: plaintext.count, ad: a)
                }
            }
        }
        return out
    }

    public static func open(key: SIMD32<UInt8>, counter: UInt64, ciphertext: [UInt8], ad: [UInt8]) -> [UInt8]? {
        guard ciphertext.count >= tagLength else { return nil }
        var out = ciphertext
        var k = key
        let n = withUnsafeBytes(of: &k) { kp in
            out.withUnsafeMutableBytes { o in
                ad.withUnsafeBytes { a in
                    openInPlace(key: kp.baseAddress!, counter: counter, buffer: o.baseAddress!,
                                length: ciphertext.count, ad: a)
                }
            }
        }
        guard let n else { return nil }
        return Array(out.prefix(n))
    }
}

/// XChaCha20-Poly1305 with a 24-byte nonce: WireGuard's cookie reply encryption.
public enum XChaChaPoly {
    public static func seal(key: [UInt8], nonce: [UInt8], plaintext: [UInt8], ad: [UInt8]) -> [UInt8] {
        precondition(key.count == 32 && nonce.count == 24)
        var out = [UInt8](repeating: 0, count: plaintext.count + 16)
        var outLen: UInt64 = 0
        _ = crypto_aead_xchacha20poly1305_ietf_encrypt(&out, &outLen, plaintext, UInt64(plaintext.count),
                                                       ad, UInt64(ad.count), nil, nonce, key)
        return out
    }

    public static func open(key: [UInt8], nonce: [UInt8], ciphertext: [UInt8], ad: [UInt8]) -> [UInt8]? {
        guard key.count == 32, nonce.count == 24, ciphertext.count >= 16 else { return nil }
        var out = [UInt8](repeating: 0, count: ciphertext.count - 16)
        var outLen: UInt64 = 0
        let rc = crypto_aead_xchacha20poly1305_ietf_decrypt(&out, &outLen, nil, ciphertext, UInt64(ciphertext.count),
                                                            ad, UInt64(ad.count), nonce, key)
        return rc == 0 ? out : nil
    }
}
