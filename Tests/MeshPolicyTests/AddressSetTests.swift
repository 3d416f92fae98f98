import MeshBase
import MeshPolicy
import Testing

@Suite struct AddressSetTests {
    @Test func prefixesRoundTripAndAggregate() throws {
        let s = AddressSet(prefixes: [try IPPrefix("10.0.0.0/25"), try IPPrefix("10.0.0.128/25"), try IPPrefix("10.0.1.0/24"),
                                      try IPPrefix("10.0.0.7/32"), try IPPrefix("fd00::/65"), try IPPrefix("fd00:0:0:0:8000::/65")])
        #expect(s.prefixes.map(\.description) == ["10.0.0.0/23", "fd00::/64"])
        #expect(s.contains(.v4(0x0A00_01FF)) && !s.contains(.v4(0x0A00_0200)))
        #expect(AddressSet(prefixes: s.prefixes) == s)
        #expect(AddressSet.everything.prefixes.map(\.description) == ["0.0.0.0/0", "::/0"])
        #expect(AddressSet.everything.contains(.v6(high: .max, low: .max)))
        let range = AddressSet(addresses: (1...6).map { IPAddress.v4(0x0A00_0000 | $0) })
        #expect(range.prefixes.map(\.description) == ["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"])
        #expect(AddressSet().union(range) == range)
        #expect(AddressSet.union([range, AddressSet(addresses: [.v4(0x0A00_0000), .v4(0x0A00_0007)])]).prefixes.map(\.description)
                == ["10.0.0.0/29"])
    }

    @Test func randomSetsAgreeWithAPlainList() {
        var rng = SplitMix(seed: 7)
        for _ in 0..<200 {
            let prefixes = (0..<Int(rng.next() % 8 + 1)).map { _ in
                try! IPPrefix(address: .v4(UInt32(truncatingIfNeeded: rng.next()) & 0x0000_FFFF), length: Int(rng.next() % 17) + 16)
            }
            let set = AddressSet(prefixes: prefixes)
            let reparsed = AddressSet(prefixes: set.prefixes)
            #expect(reparsed == set)
            for _ in 0..<50 {
                let a = IPAddress.v4(UInt32(truncatingIfNeeded: rng.next()) & 0x0000_FFFF)
                #expect(set.contains(a) == prefixes.contains { $0.contains(a) })
            }
        }
    }
}
