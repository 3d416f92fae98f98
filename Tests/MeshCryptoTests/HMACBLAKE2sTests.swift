import MeshCrypto
import Testing

@Suite struct HMACBLAKE2sTests {
    @Test func matchesPythonHMAC() throws {
        var rng = SeededRNG(seed: 0x4D4143)
        var cases: [(key: [UInt8], message: [UInt8])] = []
        // Key lengths around the 64-byte block, where HMAC switches to hashing the key.
        for keyLength in [0, 1, 31, 32, 33, 63, 64, 65, 100, 128, 200] {
            cases.append((randomBytes(keyLength, using: &rng), randomBytes(keyLength * 3, using: &rng)))
        }
        for _ in 0..<400 {
            let keyLength = Int.random(in: 0...160, using: &rng)
            cases.append((randomBytes(keyLength, using: &rng),
                          randomBytes(Int.random(in: 0...300, using: &rng), using: &rng)))
        }
        #expect(cases.filter { $0.key.count > 64 }.count > 50)
        let expected = try runPython("""
            import sys, hmac, hashlib
            for line in sys.stdin.read().splitlines():
                key, msg = line.split(' ')
                print(hmac.new(bytes.fromhex(key), bytes.fromhex(msg), hashlib.blake2s).hexdigest())
            """, lines: cases.map { "\(hex($0.key)) \(hex($0.message))" })
        try #require(expected.count == cases.count)
        for (c, want) in zip(cases, expected) {
            #expect(hex(HMACBLAKE2s.authenticate(key: c.key, message: c.message)) == want,
                    "key \(c.key.count) bytes, message \(c.message.count) bytes")
        }
    }

    @Test func longKeyIsHashedFirst() {
        let key = [UInt8](repeating: 0xAB, count: 65)
        let message = Array("message".utf8)
        #expect(HMACBLAKE2s.authenticate(key: key, message: message)
                == HMACBLAKE2s.authenticate(key: BLAKE2s.hash(key), message: message))
        #expect(HMACBLAKE2s.authenticate(key: key, message: message).count == 32)
    }
}
