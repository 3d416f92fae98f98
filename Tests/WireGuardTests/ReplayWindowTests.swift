import Testing
import WireGuard

@Suite struct ReplayWindowTests {
    @Test func acceptsInOrderAndRejectsDuplicates() {
        var w = ReplayWindow()
        for i in 0..<100 as Range<UInt64> { #expect(w.accept(i)) }
        for i in 0..<100 as Range<UInt64> { #expect(!w.accept(i)) }
    }

    @Test func acceptsReorderingWithinWindow() {
        var w = ReplayWindow()
        #expect(w.accept(10_000))
        #expect(w.accept(10_000 - ReplayWindow.windowSize + 1))
        #expect(w.accept(9_999))
        #expect(!w.accept(9_999))
    }

    @Test func rejectsBeyondWindow() {
        var w = ReplayWindow()
        #expect(w.accept(20_000))
        #expect(!w.mayAccept(20_000 - ReplayWindow.windowSize))
        #expect(!w.accept(20_000 - ReplayWindow.windowSize))
        #expect(!w.accept(0))
    }

    @Test func windowIsAtLeast8128() { #expect(ReplayWindow.windowSize >= 8128) }

    @Test func bigJumpClearsOldBits() {
        var w = ReplayWindow()
        #expect(w.accept(5))
        #expect(w.accept(1_000_000))
        // 999_429 shares 5's bit slot (both are 5 mod 8192) but is inside the window: it is fresh.
        #expect(w.accept(999_429))
        #expect(!w.accept(999_429))
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
            #expect(w.accept(c) == expected)
            if expected { seen.insert(c); greatest = max(greatest, c) }
        }
    }
}
