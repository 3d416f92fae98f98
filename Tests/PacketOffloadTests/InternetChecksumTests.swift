import PacketOffload
import Testing

@Suite struct InternetChecksumTests {
    func checksum(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { b in
            let v = ~InternetChecksum.fold(InternetChecksum.sum(b.baseAddress!, count: b.count))
            return withUnsafeBytes(of: v) { Array($0) }
        }
    }

    @Test func rfc1071Example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (one's complement: 220d).
        #expect(checksum([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]) == [0x22, 0x0d])
    }

    @Test func ipv4HeaderVector() {
        // An IPv4 header whose checksum field is b861: summing it with the field in place gives 0.
        let header: [UInt8] = [0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61,
                               0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7]
        #expect(checksum(header) == [0, 0])
        var zeroed = header
        zeroed[10] = 0; zeroed[11] = 0
        #expect(checksum(zeroed) == [0xb8, 0x61])
        zeroed.withUnsafeMutableBytes { InternetChecksum.setIPv4HeaderChecksum($0.baseAddress!, headerLength: 20) }
        #expect(zeroed == header)
    }

    @Test func matchesReferenceOnEveryLength() {
        var state: UInt64 = 0x9e37_79b9_7f4a_7c15
        for length in 0..<300 {
            let bytes = (0..<length).map { _ -> UInt8 in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return UInt8(truncatingIfNeeded: state >> 56)
            }
            let ref = PacketBuilder.referenceChecksum(bytes)
            #expect(checksum(bytes) == [UInt8(ref >> 8), UInt8(ref & 0xff)], "length \(length)")
        }
    }

    @Test func allOnesInputsDoNotOverflow() {
        // The largest sums: 64 KiB of 0xff, even (sums to ffff, checksum 0) and odd (the last
        // byte is a word ff00, checksum 00ff).
        #expect(checksum([UInt8](repeating: 0xff, count: 65534)) == [0, 0])
        #expect(checksum([UInt8](repeating: 0xff, count: 65535)) == [0x00, 0xff])
        let ref = PacketBuilder.referenceChecksum([UInt8](repeating: 0xff, count: 65535))
        #expect(ref == 0x00ff)
    }
}
