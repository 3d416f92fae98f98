import MeshCrypto
import Testing

@Suite struct HKDFTests {
    @Test func matchesPythonReimplementation() throws {
        var rng = SeededRNG(seed: 0x484B4446)
        var cases: [(chainingKey: [UInt8], input: [UInt8], outputs: Int)] = []
        for i in 0..<300 {
            // WireGuard always passes a 32-byte chaining key; a few odd lengths keep the HMAC honest.
            let chainingKeyLength = i % 25 == 0 ? [0, 16, 64, 65, 100][i / 25 % 5] : 32
            let inputLength = [0, 32, Int.random(in: 0...200, using: &rng)][i % 3]
            cases.append((randomBytes(chainingKeyLength, using: &rng),
                          randomBytes(inputLength, using: &rng),
                          i % 3 + 1))
        }
        let expected = try runPython("""
            import sys, hmac, hashlib
            def mac(k, m): return hmac.new(k, m, hashlib.blake2s).digest()
            for line in sys.stdin.read().splitlines():
                c, x, n = line.split(' ')
                t0 = mac(bytes.fromhex(c), bytes.fromhex(x))
                out, prev = [], b''
                for i in range(1, int(n) + 1):
                    prev = mac(t0, prev + bytes([i]))
                    out.append(prev.hex())
                print(' '.join(out))
            """, lines: cases.map { "\(hex($0.chainingKey)) \(hex($0.input)) \($0.outputs)" })
        try #require(expected.count == cases.count)
        for (c, want) in zip(cases, expected) {
            let derived = HKDF.derive(chainingKey: c.chainingKey, input: c.input, outputs: c.outputs)
            #expect(derived.count == c.outputs)
            #expect(derived.allSatisfy { $0.count == 32 })
            #expect(derived.map { hex($0) }.joined(separator: " ") == want)
        }
    }

    @Test func earlierOutputsDoNotDependOnCount() {
        var rng = SeededRNG(seed: 99)
        for _ in 0..<50 {
            let chainingKey = randomBytes(32, using: &rng)
            let input = randomBytes(Int.random(in: 0...100, using: &rng), using: &rng)
            let one = HKDF.derive(chainingKey: chainingKey, input: input, outputs: 1)
            let two = HKDF.derive(chainingKey: chainingKey, input: input, outputs: 2)
            let three = HKDF.derive(chainingKey: chainingKey, input: input, outputs: 3)
            #expect(Array(three.prefix(2)) == two)
            #expect(Array(two.prefix(1)) == one)
            #expect(Set(three).count == 3)
        }
    }
}
