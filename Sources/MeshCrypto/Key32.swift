import CSodium

/// A 32-byte key held inline as a value, so keys travel without heap allocation and
/// compare in constant time (private and preshared keys must never leak through timing).
public protocol Key32: Sendable, CustomStringConvertible {
    var bytes: SIMD32<UInt8> { get }
    init(bytes: SIMD32<UInt8>)
}

public enum KeyDecodingError: Error, Equatable, CustomStringConvertible {
    case notBase64
    case wrongLength(Int)

    public var description: String {
        switch self {
        case .notBase64: return "key is not valid base64"
        case .wrongLength(let n): return "key must decode to 32 bytes, got \(n)"
        }
    }
}

/// How a key's 32 bytes are held. Four words rather than a SIMD vector: Swift 6.3.1 miscompiles
/// a struct with a SIMD stored property held across `await` and returned with an optional of
/// itself (it crashes under -O), and keys live in async code. The one place this is written
/// down; `Tests/Toolchain/simd_across_await.sh` reproduces it in CI and fails once a toolchain
/// no longer does, so the workaround can go.
public typealias KeyWords = (UInt64, UInt64, UInt64, UInt64)

@inline(__always) func words(_ v: SIMD32<UInt8>) -> KeyWords { unsafeBitCast(v, to: KeyWords.self) }
@inline(__always) func simd(_ w: KeyWords) -> SIMD32<UInt8> { unsafeBitCast(w, to: SIMD32<UInt8>.self) }

extension Key32 {
    // Inlinable so callers in other modules get it specialised: unspecialised, the generic
    // loop allocates for every byte (64 allocations per key were measured on the relay path).
    @inlinable
    public init<Bytes: Collection>(rawBytes: Bytes) throws where Bytes.Element == UInt8 {
        guard rawBytes.count == 32 else { throw KeyDecodingError.wrongLength(rawBytes.count) }
        var v = SIMD32<UInt8>()
        for (i, b) in rawBytes.enumerated() { v[i] = b }
        self.init(bytes: v)
    }

    /// Parses a key as `wg genkey` prints it: 44 characters of standard base64.
    public init(base64: String) throws {
        guard let raw = Base64.decode(base64) else { throw KeyDecodingError.notBase64 }
        try self.init(rawBytes: raw)
    }

    public var base64: String { Base64.encode(rawBytes) }

    public var rawBytes: [UInt8] { (0..<32).map { bytes[$0] } }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var copy = bytes
        return try Swift.withUnsafeBytes(of: &copy) { try body($0) }
    }

    /// Constant-time equality (sodium_memcmp), for comparing secrets.
    public func constantTimeEquals(_ other: Self) -> Bool {
        var a = bytes, b = other.bytes
        return Swift.withUnsafeBytes(of: &a) { pa in
            Swift.withUnsafeBytes(of: &b) { pb in
                sodium_memcmp(pa.baseAddress, pb.baseAddress, 32) == 0
            }
        }
    }

    public var isZero: Bool { bytes == SIMD32<UInt8>() }
}

/// The public half of an X25519 key pair; a peer's identity.
public struct PublicKey: Key32, Hashable {
    private let storage: KeyWords
    public var bytes: SIMD32<UInt8> { simd(storage) }
    public init(bytes: SIMD32<UInt8>) { storage = words(bytes) }
    public static func == (a: PublicKey, b: PublicKey) -> Bool {
        a.storage.0 == b.storage.0 && a.storage.1 == b.storage.1 && a.storage.2 == b.storage.2 && a.storage.3 == b.storage.3
    }
    public func hash(into h: inout Hasher) {
        h.combine(storage.0); h.combine(storage.1); h.combine(storage.2); h.combine(storage.3)
    }
    public var description: String { base64 }
}

/// An X25519 private key, clamped as `wg genkey` clamps it.
public struct PrivateKey: Key32, Equatable {
    private let storage: KeyWords
    public var bytes: SIMD32<UInt8> { simd(storage) }
    public init(bytes: SIMD32<UInt8>) {
        var b = bytes
        b[0] &= 248
        b[31] = (b[31] & 127) | 64
        storage = words(b)
    }
    public static func == (a: PrivateKey, b: PrivateKey) -> Bool { a.constantTimeEquals(b) }
    /// Never print a secret by accident.
    public var description: String { "PrivateKey(…)" }

    public var publicKey: PublicKey { X25519.publicKey(of: self) }

    /// Makes a key from 32 random bytes supplied by the caller.
    public static func generate(using entropy: inout some EntropySource) -> PrivateKey {
        var v = SIMD32<UInt8>()
        Swift.withUnsafeMutableBytes(of: &v) { entropy.fill($0) }
        return PrivateKey(bytes: v)
    }
}

/// The optional symmetric key mixed into the handshake (post-quantum hedge).
public struct PresharedKey: Key32, Equatable {
    private let storage: KeyWords
    public var bytes: SIMD32<UInt8> { simd(storage) }
    public init(bytes: SIMD32<UInt8>) { storage = words(bytes) }
    public static func == (a: PresharedKey, b: PresharedKey) -> Bool { a.constantTimeEquals(b) }
    public var description: String { "PresharedKey(…)" }
    public static let zero = PresharedKey(bytes: SIMD32<UInt8>())
}
