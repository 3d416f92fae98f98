import MeshCrypto
import Testing

/// BoringSSL's ChaCha20-Poly1305 (the data path's) against libsodium's, an independent
/// implementation: each opens what the other sealed, byte for byte the same ciphertext.
@Suite struct TransportCipherTests {
    func key(_ seed: UInt8) -> SIMD32<UInt8> {
        var k = SIMD32<UInt8>()
        for i in 0..<32 { k[i] = seed &+ UInt8(i) &* 7 }
        return k
    }

    @Test func theTestProcessHasBoringSSL() {
        // swift-nio-ssl is linked into the test bundle, as into meshd: the fast path is the one tested.
        #expect(TransportCipher.boringSSLAvailable)
        #expect(TransportCipher(key: key(1)).backend == .boringSSL)
        #expect(TransportCipher(key: key(1), preferring: .libsodium).backend == .libsodium)
    }

    @Test(arguments: [0, 1, 15, 16, 17, 64, 1420, 1424, 65519])
    func bothBackendsAgreeAndOpenEachOther(length: Int) {
        let fast = TransportCipher(key: key(9)), sodium = TransportCipher(key: key(9), preferring: .libsodium)
        let counter: UInt64 = 0x0102_0304_0506_0708 &+ UInt64(length)
        var plain = [UInt8](repeating: 0, count: length + 16)
        for i in 0..<length { plain[i] = UInt8(truncatingIfNeeded: i &* 131 &+ 17) }
        var a = plain, b = plain
        a.withUnsafeMutableBytes { fast.sealInPlace(counter: counter, buffer: $0.baseAddress!, length: length) }
        b.withUnsafeMutableBytes { sodium.sealInPlace(counter: counter, buffer: $0.baseAddress!, length: length) }
        #expect(a == b)
        #expect(a.withUnsafeMutableBytes { sodium.openInPlace(counter: counter, buffer: $0.baseAddress!, length: length + 16) } == length)
        #expect(Array(a[0..<length]) == Array(plain[0..<length]))
        #expect(b.withUnsafeMutableBytes { fast.openInPlace(counter: counter, buffer: $0.baseAddress!, length: length + 16) } == length)
        #expect(Array(b[0..<length]) == Array(plain[0..<length]))
    }

    @Test func aChangedByteOrWrongCounterOrKeyIsRefused() {
        let fast = TransportCipher(key: key(3))
        var sealed = [UInt8](repeating: 0x5a, count: 100 + 16)
        sealed.withUnsafeMutableBytes { fast.sealInPlace(counter: 7, buffer: $0.baseAddress!, length: 100) }
        for backend in [TransportCipher.Backend.boringSSL, .libsodium] {
            let c = TransportCipher(key: key(3), preferring: backend)
            var flipped = sealed
            flipped[40] ^= 1
            #expect(flipped.withUnsafeMutableBytes { c.openInPlace(counter: 7, buffer: $0.baseAddress!, length: 116) } == nil)
            var copy = sealed
            #expect(copy.withUnsafeMutableBytes { c.openInPlace(counter: 8, buffer: $0.baseAddress!, length: 116) } == nil)
            copy = sealed
            let other = TransportCipher(key: key(4), preferring: backend)
            #expect(copy.withUnsafeMutableBytes { other.openInPlace(counter: 7, buffer: $0.baseAddress!, length: 116) } == nil)
            var short = [UInt8](repeating: 0, count: 15)
            #expect(short.withUnsafeMutableBytes { c.openInPlace(counter: 7, buffer: $0.baseAddress!, length: 15) } == nil)
        }
    }
}
