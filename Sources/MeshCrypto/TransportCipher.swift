import CFastAEAD
import CSodium

/// One direction's transport key, ready to seal or open WireGuard data messages in place
/// (ChaCha20-Poly1305, nonce 0 || counter). The key schedule is set up once per keypair, not per
/// packet, and when the process has BoringSSL (meshd links swift-nio-ssl's) its fused AVX2
/// assembly does the work: on the data path this is most of meshd's CPU, and that assembly takes
/// about 60 % of libsodium's time for a 1424-byte packet. Without it, libsodium (`ChaChaPoly`).
/// Both produce the same bytes; the tests hold them to each other.
public final class TransportCipher: @unchecked Sendable {
    public enum Backend: Sendable { case boringSSL, libsodium }

    public let backend: Backend
    /// Sendable by hand: written only in init; BoringSSL's seal and open take the context as const.
    private let context: UnsafeMutableRawPointer?
    private let key: SIMD32<UInt8>

    /// Whether this process can use BoringSSL (its symbols are linked in).
    public static let boringSSLAvailable = mesh_fast_aead_available() != 0

    public init(key: SIMD32<UInt8>, preferring preferred: Backend = .boringSSL) {
        self.key = key
        var k = key
        let ctx: UnsafeMutableRawPointer? = preferred == .boringSSL && Self.boringSSLAvailable
            ? withUnsafeBytes(of: &k) { mesh_fast_aead_new($0.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
            : nil
        withUnsafeMutableBytes(of: &k) { sodium_memzero($0.baseAddress!, 32) }
        context = ctx
        backend = ctx == nil ? .libsodium : .boringSSL
    }

    deinit { mesh_fast_aead_free(context) }

    /// Encrypts `length` bytes at `buffer` in place and appends the 16-byte tag right after.
    @inline(__always)
    public func sealInPlace(counter: UInt64, buffer: UnsafeMutableRawPointer, length: Int) {
        if let context {
            _ = mesh_fast_aead_seal(context, counter, buffer.assumingMemoryBound(to: UInt8.self), length)
            return
        }
        var k = key
        withUnsafeBytes(of: &k) { ChaChaPoly.sealInPlace(key: $0.baseAddress!, counter: counter, buffer: buffer, length: length) }
    }

    /// Verifies and decrypts `length` bytes (ciphertext + tag) in place. Returns the plaintext
    /// length, or nil when authentication fails.
    @inline(__always)
    public func openInPlace(counter: UInt64, buffer: UnsafeMutableRawPointer, length: Int) -> Int? {
        guard length >= ChaChaPoly.tagLength else { return nil }
        if let context {
            return mesh_fast_aead_open(context, counter, buffer.assumingMemoryBound(to: UInt8.self), length) == 1
                ? length - ChaChaPoly.tagLength : nil
        }
        var k = key
        return withUnsafeBytes(of: &k) { ChaChaPoly.openInPlace(key: $0.baseAddress!, counter: counter, buffer: buffer, length: length) }
    }
}
