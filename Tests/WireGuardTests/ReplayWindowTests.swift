import Testing
import WireGuard

@Suite struct ReplayWindowTests {
    /// `#expect` cannot call a mutating method itself; this does it outside the macro.
    static func take(_ w: inout ReplayWindow, _ c: UInt64) -> Bool { w.accept(c) }

    @Test func acceptsInOrderAndRejectsDuplicates() {
        var w = ReplayWindow()
        for i in 0..<100 as Range<UInt64> { #expect(Self.take(&w, i)) }
        for i in 0..<100 as Range<UInt64> { #expect(!Self.take(&w, i)) }
    }

    @Test func acceptsReorderingWithinWindow() {
        var w = ReplayWindow()
        #expect(Self.take(&w, 10_000))
        #expect(Self.take(&w, 10_000 - ReplayWindow.windowSize + 1))
        #expect(Self.take(&w, 9_999))
        #expect(!Self.take(&w, 9_999))
    }

    @Test func rejectsBeyondWindow() {
        var w = ReplayWindow()
        #expect(Self.take(&w, 20_000))
        #expect(!w.mayAccept(20_000 - ReplayWindow.windowSize))
        #expect(!Self.take(&w, 20_000 - ReplayWindow.windowSize))
        #expect(!Self.take(&w, 0))
    }

    @Test func windowIsAtLeast8128() { #expect(ReplayWindow.windowSize >= 8128) }

    @Test func bigJumpClearsOldBits() {
        var w = ReplayWindow()
        #expect(Self.take(&w, 5))
        #expect(Self.take(&w, 1_000_000))
        // 999_429 shares 5's bit slot (both are 5 mod 8192) but is inside the window: it is fresh.
        #expect(Self.take(&w, 999_429))
        #expect(!Self.take(&w, 999_429))
    }

    /// Cross-checks against a naive set-based window on a random stream.
    @Test func matchesNaiveModel() {
        var w = ReplayWindow()
        var seen = Set<UInt64>()
        var greatest: UInt64 = 0
        var rng = SystemRandomNumberGenerator()
        var base: UInt64 = 0
        for _ in 0..<50_000 {
            base += UInt64.random(in: 0...3, using: &rng)
            let c = base + UInt64.random(in: 0...20_000, using: &rng) - min(base, 10_000)
            let expected = !seen.contains(c) && (seen.isEmpty || c > greatest || greatest - c < ReplayWindow.windowSize)
            #expect(Self.take(&w, c) == expected)
            if expected { seen.insert(c); greatest = max(greatest, c) }
        }
    }
}
