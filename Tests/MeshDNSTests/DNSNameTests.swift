import MeshDNS
import Testing

@Suite struct DNSNameTests {
    @Test func readsPlainAndCompressedNames() throws {
        // "b.mesh" at 0, then "x" + pointer to 0 at 8.
        let msg: [UInt8] = [1, 0x62, 4, 0x6D, 0x65, 0x73, 0x68, 0, 1, 0x78, 0xC0, 0x00]
        let (plain, next) = try DNSName.read(msg, at: 0)
        #expect(plain.description == "b.mesh." && next == 8)
        let (compressed, after) = try DNSName.read(msg, at: 8)
        #expect(compressed.description == "x.b.mesh." && after == 12)
        #expect(DNSName("x.b.mesh")! == compressed)
    }

    @Test func pointerLoopsAndForwardPointersAreRefused() {
        // A pointer to itself, and two pointers to each other.
        #expect(throws: DNSParseError.badPointer) { try DNSName.read([0xC0, 0x00], at: 0) }
        #expect(throws: DNSParseError.badPointer) { try DNSName.read([0xC0, 0x02, 0xC0, 0x00], at: 2) }
        // Forward: pointer at 0 to offset 2.
        #expect(throws: DNSParseError.badPointer) { try DNSName.read([0xC0, 0x02, 0], at: 0) }
        // A label that jumps back into itself through a chain of backward pointers still ends:
        // each pointer must go strictly below the previous one.
        #expect(throws: DNSParseError.badPointer) { try DNSName.read([1, 0x61, 0xC0, 0x04, 1, 0x62, 0xC0, 0x00], at: 4) }
    }

    @Test func limitsOnLengthAndLabels() throws {
        #expect(throws: DNSParseError.badLabelType) { try DNSName.read([0x40, 0], at: 0) }
        #expect(throws: DNSParseError.badLabelType) { try DNSName.read([0x80, 0], at: 0) }
        #expect(throws: DNSParseError.truncated) { try DNSName.read([3, 0x61], at: 0) }
        #expect(throws: DNSParseError.truncated) { try DNSName.read([1, 0x61], at: 0) }
        // 128 one-byte labels: 257 bytes, over both limits.
        let many: [UInt8] = Array(repeating: [UInt8(1), 0x61], count: 128).flatMap { $0 } + [UInt8(0)]
        #expect(throws: DNSParseError.nameTooLong) { try DNSName.read(many, at: 0) }
        // 127 labels of one byte = 255 bytes: the largest name there is.
        let most: [UInt8] = Array(repeating: [UInt8(1), 0x61], count: 127).flatMap { $0 } + [UInt8(0)]
        let (name, _) = try DNSName.read(most, at: 0)
        #expect(name.labels.count == 127 && name.wire == most)
        // Pointers cannot stretch a name past 255 bytes: 4 x 63-byte labels + pointer chains.
        let label = [UInt8(63)] + Array(repeating: UInt8(0x61), count: 63)
        let chain = label + label + [0] + label + label + [0xC0, 0x00]
        #expect(throws: DNSParseError.nameTooLong) { try DNSName.read(chain, at: 129) }
        #expect(DNSName(String(repeating: "a.", count: 128)) == nil)
        #expect(DNSName("a..b") == nil)
    }

    @Test func caseAndEscapes() {
        let n = DNSName("B.Mesh")!
        #expect(n.isSubdomain(of: DNSName("mesh")!) && n.lowercased.description == "b.mesh.")
        #expect(!DNSName("bmesh")!.isSubdomain(of: DNSName("mesh")!))
        let odd = try! DNSName(labels: [[0x61, 0x2E, 0x0A]])
        #expect(odd.description == "a\\046\\010.")
        #expect(DNSName(".")!.description == "." && DNSName(".")!.wire == [0])
    }
}
