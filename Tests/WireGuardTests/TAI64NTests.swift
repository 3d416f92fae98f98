import Testing
import WireGuard

@Suite struct TAI64NTests {
    @Test func encodingIsLabelledBigEndian() {
        let t = TAI64N(unixSeconds: 0, nanoseconds: 1)
        #expect(t.encoded == [0x40, 0, 0, 0, 0, 0, 0, 0x0A, 0, 0, 0, 1])
        #expect(TAI64N(encoded: t.encoded) == t)
    }

    @Test func ordersByTime() {
        #expect(TAI64N(unixSeconds: 100, nanoseconds: 5) < TAI64N(unixSeconds: 100, nanoseconds: 6))
        #expect(TAI64N(unixSeconds: 100, nanoseconds: 999_999_999) < TAI64N(unixSeconds: 101, nanoseconds: 0))
        #expect(TAI64N(encoded: [1, 2, 3]) == nil)
    }
}
