import MeshWire
import Testing

@Suite struct STUNSHA1Tests {
    /// FIPS 180-2 Appendix A examples (and the empty string).
    @Test func fipsVectors() {
        #expect(stunHex(STUNSHA1.hash(Array("abc".utf8))) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(stunHex(STUNSHA1.hash([UInt8]())) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(stunHex(STUNSHA1.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        #expect(stunHex(STUNSHA1.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)))
                == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    @Test func incrementalUpdatesMatchOneShot() {
        var rng = STUNTestRNG(seed: 7)
        let data = rng.bytes(1000)
        var h = STUNSHA1()
        var i = 0
        while i < data.count {
            let n = Int.random(in: 0...130, using: &rng)
            h.update(data[i..<min(i + n, data.count)])
            i += n
        }
        #expect(h.finalize() == STUNSHA1.hash(data))
    }

    /// RFC 2202 section 3: HMAC-SHA1 test cases 1, 2, 3, 6 and 7.
    @Test func rfc2202HMACVectors() {
        #expect(stunHex(STUNHMACSHA1.authenticate(key: [UInt8](repeating: 0x0b, count: 20), message: Array("Hi There".utf8)))
                == "b617318655057264e28bc0b6fb378c8ef146be00")
        #expect(stunHex(STUNHMACSHA1.authenticate(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8)))
                == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
        #expect(stunHex(STUNHMACSHA1.authenticate(key: [UInt8](repeating: 0xaa, count: 20), message: [UInt8](repeating: 0xdd, count: 50)))
                == "125d7342b9ac11cd91a39af48aa17b4f63f175d3")
        #expect(stunHex(STUNHMACSHA1.authenticate(key: [UInt8](repeating: 0xaa, count: 80),
                                                  message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)))
                == "aa4ae5e15272d00e95705637ce8a3b55ed402112")
        #expect(stunHex(STUNHMACSHA1.authenticate(key: [UInt8](repeating: 0xaa, count: 80),
                                                  message: Array("Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data".utf8)))
                == "e8e99d0f45237d786d6bbaa7965c7808bbff1a91")
    }

    /// Random inputs against Python's hashlib.sha1 and hmac, lengths around every block and
    /// padding boundary, keys shorter than, equal to and longer than a block.
    @Test func matchesPythonHashlibAndHMAC() throws {
        var rng = STUNTestRNG(seed: 0x5348_4131)
        var cases: [(key: [UInt8], data: [UInt8])] = []
        let edgeLengths = [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000]
        for n in edgeLengths { cases.append((rng.bytes(Int.random(in: 0...100, using: &rng)), rng.bytes(n))) }
        for keyLength in [0, 1, 20, 63, 64, 65, 150] { cases.append((rng.bytes(keyLength), rng.bytes(40))) }
        for _ in 0..<300 {
            cases.append((rng.bytes(Int.random(in: 0...150, using: &rng)), rng.bytes(Int.random(in: 0...400, using: &rng))))
        }
        let expected = try runSTUNPython("""
            import sys, hashlib, hmac
            for line in sys.stdin.read().splitlines():
                key, data = line.split(' ')
                key, data = bytes.fromhex(key), bytes.fromhex(data)
                print(hashlib.sha1(data).hexdigest(), hmac.new(key, data, 'sha1').hexdigest())
            """, lines: cases.map { "\(stunHex($0.key)) \(stunHex($0.data))" })
        try #require(expected.count == cases.count)
        for (c, line) in zip(cases, expected) {
            let want = line.split(separator: " ").map(String.init)
            #expect(stunHex(STUNSHA1.hash(c.data)) == want[0], "data \(c.data.count) bytes")
            #expect(stunHex(STUNHMACSHA1.authenticate(key: c.key, message: c.data)) == want[1],
                    "key \(c.key.count) bytes, data \(c.data.count) bytes")
        }
    }

    /// CRC-32 of FINGERPRINT against Python's binascii.crc32 (zlib's CRC).
    @Test func crc32MatchesPython() throws {
        var rng = STUNTestRNG(seed: 0xC3C3)
        let inputs = [Array("123456789".utf8)] + (0..<100).map { _ in rng.bytes(Int.random(in: 0...300, using: &rng)) }
        #expect(STUNCRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        let expected = try runSTUNPython("""
            import sys, binascii
            for line in sys.stdin.read().splitlines():
                print(binascii.crc32(bytes.fromhex(line.strip())))
            """, lines: inputs.map { stunHex($0) })
        try #require(expected.count == inputs.count)
        for (input, want) in zip(inputs, expected) {
            #expect(String(STUNCRC32.checksum(input)) == want, "\(input.count) bytes")
        }
    }
}
