import MeshCrypto
import Testing

@Suite struct AEADTests {
    init() { _ = Sodium.isReady }

    static func key(_ rng: inout SeededRNG) -> SIMD32<UInt8> {
        var k = SIMD32<UInt8>()
        for i in 0..<32 { k[i] = UInt8.random(in: .min ... .max, using: &rng) }
        return k
    }

    @Test func chaChaPolyRoundTrip() {
        var rng = SeededRNG(seed: 11)
        for length in [0, 1, 15, 16, 17, 63, 64, 65, 1420, 4000] {
            let key = Self.key(&rng)
            let counter = UInt64.random(in: 0 ... .max, using: &rng)
            let plaintext = randomBytes(length, using: &rng)
            let ad = randomBytes(length % 40, using: &rng)
            let sealed = ChaChaPoly.seal(key: key, counter: counter, plaintext: plaintext, ad: ad)
            #expect(sealed.count == length + ChaChaPoly.tagLength)
            if length > 0 { #expect(Array(sealed.prefix(length)) != plaintext) }
            let roundTrips = ChaChaPoly.open(key: key, counter: counter, ciphertext: sealed, ad: ad) == plaintext
            #expect(roundTrips, "round trip failed for \(length) bytes, counter \(counter)")
            #expect(ChaChaPoly.open(key: key, counter: counter &+ 1, ciphertext: sealed, ad: ad) == nil)
            #expect(ChaChaPoly.open(key: key, counter: counter, ciphertext: sealed, ad: ad + [0]) == nil)
        }
    }

    @Test func chaChaPolyInPlace() {
        var rng = SeededRNG(seed: 12)
        let key = Self.key(&rng)
        let plaintext = randomBytes(300, using: &rng)
        let ad = randomBytes(32, using: &rng)
        var buffer = plaintext + [UInt8](repeating: 0, count: ChaChaPoly.tagLength)
        var k = key
        withUnsafeBytes(of: &k) { kp in
            buffer.withUnsafeMutableBytes { b in
                ad.withUnsafeBytes { a in
                    ChaChaPoly.sealInPlace(key: kp.baseAddress!, counter: 42, buffer: b.baseAddress!,
                                           length: plaintext.count, ad: a)
                }
            }
        }
        let matchesCopyingSeal = buffer == ChaChaPoly.seal(key: key, counter: 42, plaintext: plaintext, ad: ad)
        #expect(matchesCopyingSeal)
        let opened = withUnsafeBytes(of: &k) { kp in
            buffer.withUnsafeMutableBytes { b in
                ad.withUnsafeBytes { a in
                    ChaChaPoly.openInPlace(key: kp.baseAddress!, counter: 42, buffer: b.baseAddress!,
                                           length: b.count, ad: a)
                }
            }
        }
        #expect(opened == plaintext.count)
        let restored = Array(buffer.prefix(plaintext.count)) == plaintext
        #expect(restored)
        // Too short to hold a tag.
        var tiny = [UInt8](repeating: 0, count: 15)
        let rejected = withUnsafeBytes(of: &k) { kp in
            tiny.withUnsafeMutableBytes { b in
                ChaChaPoly.openInPlace(key: kp.baseAddress!, counter: 0, buffer: b.baseAddress!, length: b.count)
            }
        }
        #expect(rejected == nil)
    }

    @Test func chaChaPolyDetectsTampering() throws {
        var rng = SeededRNG(seed: 13)
        let key = Self.key(&rng)
        let plaintext = randomBytes(100, using: &rng)
        let ad = randomBytes(20, using: &rng)
        let sealed = ChaChaPoly.seal(key: key, counter: 7, plaintext: plaintext, ad: ad)
        try #require(ChaChaPoly.open(key: key, counter: 7, ciphertext: sealed, ad: ad) == plaintext)
        for byte in [0, 50, 99, 100, 115] {
            for bit in [0, 7] {
                var tampered = sealed
                tampered[byte] ^= 1 << bit
                #expect(ChaChaPoly.open(key: key, counter: 7, ciphertext: tampered, ad: ad) == nil)
            }
        }
        var tamperedAD = ad
        tamperedAD[3] ^= 0x10
        #expect(ChaChaPoly.open(key: key, counter: 7, ciphertext: sealed, ad: tamperedAD) == nil)
        var otherKey = key
        otherKey[0] ^= 1
        #expect(ChaChaPoly.open(key: otherKey, counter: 7, ciphertext: sealed, ad: ad) == nil)
        #expect(ChaChaPoly.open(key: key, counter: 7, ciphertext: Array(sealed.prefix(15)), ad: ad) == nil)
    }

    /// WireGuard's nonce is 4 zero bytes then the 64-bit counter, little-endian. RFC 8439's
    /// section 2.8.2 vector has a nonzero first word, so compare with an independent
    /// implementation (Python `cryptography`) instead, with counters that use all eight bytes.
    @Test func chaChaPolyMatchesPythonCryptography() throws {
        var rng = SeededRNG(seed: 14)
        var cases: [(key: SIMD32<UInt8>, counter: UInt64, plaintext: [UInt8], ad: [UInt8])] = []
        for i in 0..<300 {
            let counter: UInt64 = switch i % 4 {
            case 0: UInt64(i)
            case 1: .max - UInt64(i)
            case 2: UInt64(1) << UInt64(32 + i % 32)
            default: .random(in: 0 ... .max, using: &rng)
            }
            cases.append((Self.key(&rng), counter,
                          randomBytes(Int.random(in: 0...1500, using: &rng), using: &rng),
                          randomBytes(Int.random(in: 0...64, using: &rng), using: &rng)))
        }
        let expected = try runPython("""
            import sys
            from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
            for line in sys.stdin.read().splitlines():
                key, counter, pt, ad = line.split(' ')
                nonce = bytes(4) + int(counter).to_bytes(8, 'little')
                print(ChaCha20Poly1305(bytes.fromhex(key)).encrypt(nonce, bytes.fromhex(pt), bytes.fromhex(ad)).hex())
            """, lines: cases.map { c in
                "\(hex((0..<32).map { c.key[$0] })) \(c.counter) \(hex(c.plaintext)) \(hex(c.ad))"
            })
        try #require(expected.count == cases.count)
        // Summarised rather than one expectation per case: a nonce bug fails every case.
        let sealMismatches = zip(cases, expected).filter { c, want in
            hex(ChaChaPoly.seal(key: c.key, counter: c.counter, plaintext: c.plaintext, ad: c.ad)) != want
        }
        let openMismatches = zip(cases, expected).filter { c, want in
            ChaChaPoly.open(key: c.key, counter: c.counter, ciphertext: unhex(want), ad: c.ad) != c.plaintext
        }
        #expect(sealMismatches.count == 0,
                "seal differs in \(sealMismatches.count)/\(cases.count) cases, first counters: \(sealMismatches.prefix(5).map { $0.0.counter })")
        #expect(openMismatches.count == 0,
                "open rejects Python's ciphertext in \(openMismatches.count)/\(cases.count) cases, first counters: \(openMismatches.prefix(5).map { $0.0.counter })")
    }

    @Test func xChaChaPolyRoundTripAndTamper() throws {
        var rng = SeededRNG(seed: 15)
        for length in [0, 1, 16, 32, 100] {
            let key = randomBytes(32, using: &rng)
            let nonce = randomBytes(24, using: &rng)
            let plaintext = randomBytes(length, using: &rng)
            let ad = randomBytes(16, using: &rng)
            let sealed = XChaChaPoly.seal(key: key, nonce: nonce, plaintext: plaintext, ad: ad)
            #expect(sealed.count == length + 16)
            try #require(XChaChaPoly.open(key: key, nonce: nonce, ciphertext: sealed, ad: ad) == plaintext)

            var tampered = sealed
            tampered[Int.random(in: 0..<tampered.count, using: &rng)] ^= 0x01
            #expect(XChaChaPoly.open(key: key, nonce: nonce, ciphertext: tampered, ad: ad) == nil)
            var otherNonce = nonce
            otherNonce[23] ^= 0x80
            #expect(XChaChaPoly.open(key: key, nonce: otherNonce, ciphertext: sealed, ad: ad) == nil)
            #expect(XChaChaPoly.open(key: key, nonce: nonce, ciphertext: sealed, ad: ad + [1]) == nil)
        }
        #expect(XChaChaPoly.open(key: [UInt8](repeating: 0, count: 32), nonce: [UInt8](repeating: 0, count: 24),
                                 ciphertext: [UInt8](repeating: 0, count: 15), ad: []) == nil)
        #expect(XChaChaPoly.open(key: [UInt8](repeating: 0, count: 31), nonce: [UInt8](repeating: 0, count: 24),
                                 ciphertext: [UInt8](repeating: 0, count: 16), ad: []) == nil)
    }
}
