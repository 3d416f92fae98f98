import MeshCrypto
import Testing

@Suite struct Key32Tests {
    init() { _ = Sodium.isReady }

    // RFC 7748 section 6.1.
    static let alicePrivate = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
    static let alicePublic = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    static let bobPrivate = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
    static let bobPublic = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
    static let sharedSecret = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"

    @Test func base64RoundTrip() throws {
        var rng = SeededRNG(seed: 1)
        for _ in 0..<100 {
            let raw = randomBytes(32, using: &rng)
            let key = try PublicKey(rawBytes: raw)
            #expect(key.base64.count == 44)
            #expect(key.base64.hasSuffix("="))
            let decoded = try PublicKey(base64: key.base64)
            #expect(decoded == key)
            #expect(decoded.rawBytes == raw)
        }
        let privateKey = try PrivateKey(rawBytes: unhex(Self.alicePrivate))
        #expect(try PrivateKey(base64: privateKey.base64) == privateKey)
        #expect(try PresharedKey(base64: PresharedKey.zero.base64) == .zero)
    }

    @Test func rejectsWrongLength() throws {
        let short = Base64.encode([UInt8](repeating: 7, count: 31))
        let long = Base64.encode([UInt8](repeating: 7, count: 33))
        #expect(throws: KeyDecodingError.wrongLength(31)) { try PrivateKey(base64: short) }
        #expect(throws: KeyDecodingError.wrongLength(33)) { try PrivateKey(base64: long) }
        #expect(throws: KeyDecodingError.wrongLength(0)) { try PrivateKey(base64: "") }
        #expect(throws: KeyDecodingError.wrongLength(31)) { try PrivateKey(rawBytes: [UInt8](repeating: 1, count: 31)) }
    }

    @Test func rejectsNonBase64() {
        #expect(throws: KeyDecodingError.notBase64) { try PrivateKey(base64: "not base64 at all!") }
        #expect(throws: KeyDecodingError.notBase64) {
            try PrivateKey(base64: "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LC*=")
        }
    }

    @Test func rejectsTrailingGarbage() throws {
        let valid = try PrivateKey(rawBytes: unhex(Self.alicePrivate)).base64
        #expect(throws: (any Error).self) { try PrivateKey(base64: valid + "!") }
        #expect(throws: (any Error).self) { try PrivateKey(base64: valid + " ") }
        #expect(throws: (any Error).self) { try PrivateKey(base64: valid + "\n") }
        #expect(throws: (any Error).self) { try PrivateKey(base64: valid + "AAAA") }
        #expect(throws: (any Error).self) { try PrivateKey(base64: valid + "=") }
        #expect(throws: (any Error).self) { try PrivateKey(base64: String(valid.dropLast())) }
    }

    @Test func privateKeysAreClamped() throws {
        let ones = try PrivateKey(rawBytes: [UInt8](repeating: 0xFF, count: 32)).rawBytes
        #expect(ones[0] == 0xF8)
        #expect(ones[31] == 0x7F)
        #expect(ones[1..<31].allSatisfy { $0 == 0xFF })
        let zeros = try PrivateKey(rawBytes: [UInt8](repeating: 0, count: 32)).rawBytes
        #expect(zeros[31] == 0x40)
        #expect(zeros.dropLast().allSatisfy { $0 == 0 })
        // Clamping is idempotent, so a key survives a base64 round trip unchanged.
        var rng = SeededRNG(seed: 2)
        for _ in 0..<50 {
            let key = try PrivateKey(rawBytes: randomBytes(32, using: &rng))
            #expect(try PrivateKey(rawBytes: key.rawBytes).rawBytes == key.rawBytes)
        }
    }

    @Test func generateUsesEntropyAndClamps() {
        var a = SeededEntropy(seed: 5), b = SeededEntropy(seed: 5), c = SeededEntropy(seed: 6)
        let k1 = PrivateKey.generate(using: &a)
        #expect(k1 == PrivateKey.generate(using: &b))
        #expect(k1 != PrivateKey.generate(using: &c))
        #expect(k1 != PrivateKey.generate(using: &a))
        #expect(k1.rawBytes[0] & 7 == 0)
        #expect(k1.rawBytes[31] & 0xC0 == 0x40)
    }

    @Test func publicKeyDerivationMatchesRFC7748() throws {
        let alice = try PrivateKey(rawBytes: unhex(Self.alicePrivate))
        let bob = try PrivateKey(rawBytes: unhex(Self.bobPrivate))
        #expect(hex(alice.publicKey.rawBytes) == Self.alicePublic)
        #expect(hex(bob.publicKey.rawBytes) == Self.bobPublic)
    }

    @Test func sharedSecretMatchesRFC7748() throws {
        let alice = try PrivateKey(rawBytes: unhex(Self.alicePrivate))
        let bob = try PrivateKey(rawBytes: unhex(Self.bobPrivate))
        let fromAlice = try X25519.sharedSecret(alice, PublicKey(rawBytes: unhex(Self.bobPublic)))
        let fromBob = try X25519.sharedSecret(bob, alice.publicKey)
        #expect(fromAlice == fromBob)
        #expect(hex((0..<32).map { fromAlice[$0] }) == Self.sharedSecret)
    }

    @Test func lowOrderPointsAreRefused() throws {
        let alice = try PrivateKey(rawBytes: unhex(Self.alicePrivate))
        #expect(throws: X25519.LowOrderPointError.self) {
            try X25519.sharedSecret(alice, PublicKey(bytes: SIMD32<UInt8>()))
        }
        // The other points that libsodium's blocklist names (orders 1, 2, 4, 8 and non-canonical forms).
        let lowOrder = [
            "0100000000000000000000000000000000000000000000000000000000000000",
            "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
            "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ]
        for point in lowOrder {
            #expect(throws: X25519.LowOrderPointError.self, "\(point)") {
                try X25519.sharedSecret(alice, PublicKey(rawBytes: unhex(point)))
            }
        }
    }

    @Test func secretsAreNotPrinted() throws {
        let alice = try PrivateKey(rawBytes: unhex(Self.alicePrivate))
        #expect(!"\(alice)".contains(alice.base64))
        #expect(!"\(PresharedKey.zero)".contains(PresharedKey.zero.base64))
        #expect("\(alice.publicKey)" == alice.publicKey.base64)
    }

    @Test func constantTimeEquality() throws {
        let a = try PresharedKey(rawBytes: [UInt8](repeating: 1, count: 32))
        var raw = [UInt8](repeating: 1, count: 32)
        raw[31] = 2
        let b = try PresharedKey(rawBytes: raw)
        #expect(a.constantTimeEquals(a))
        #expect(!a.constantTimeEquals(b))
        #expect(a != b)
        #expect(PresharedKey.zero.isZero && !a.isZero)
    }
}
