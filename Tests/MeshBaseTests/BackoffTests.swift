import MeshBase
import Testing

@Suite struct BackoffTests {
    @Test func exponentialWithJitterCappedAndResetAfterStableConnection() {
        var e = SeededEntropy(seed: 5)
        var b = Backoff()  // 250 ms, ×2, cap 30 s, stable after 10 s
        var t = MonotonicTime(nanoseconds: 0)
        let ceilings: [Double] = [0.25, 0.5, 1, 2, 4, 8, 16, 30, 30, 30, 30]
        for ceiling in ceilings {
            let d = b.nextDelay(now: t, entropy: &e)
            let s = Double(d.nanoseconds) / 1e9
            #expect(s >= ceiling / 2 && s <= ceiling, "delay \(s) outside [\(ceiling / 2), \(ceiling)]")
            t = t + d
        }
        #expect(b.failures == ceilings.count)
        // A short-lived connection does not reset the schedule.
        b.connected(now: t)
        t = t + .seconds(3)
        #expect(b.nextDelay(now: t, entropy: &e) >= .seconds(15))
        // A stable one does.
        b.connected(now: t)
        t = t + .seconds(10)
        #expect(b.nextDelay(now: t, entropy: &e) <= .milliseconds(250))
        #expect(b.failures == 1)
    }

    @Test func ceilingSaturatesWithoutOverflow() {
        var e = SeededEntropy(seed: 1)
        var b = Backoff(initial: .seconds(1), maximum: .seconds(60))
        for _ in 0..<10_000 { _ = b.nextDelay(now: MonotonicTime(nanoseconds: 0), entropy: &e) }
        #expect(b.currentCeiling == .seconds(60))
        // Out-of-range settings clamp rather than trap.
        var odd = Backoff(initial: .seconds(100), maximum: .seconds(5))
        #expect(odd.nextDelay(now: MonotonicTime(nanoseconds: 0), entropy: &e) <= .seconds(5))
        var negative = Backoff(initial: .seconds(-1), maximum: .seconds(-1))
        #expect(negative.nextDelay(now: MonotonicTime(nanoseconds: 0), entropy: &e) == .zero)
    }

    @Test func jitterSpreadsClients() {
        var delays = Set<Int64>()
        for seed in 0..<50 as Range<UInt64> {
            var e = SeededEntropy(seed: seed)
            var b = Backoff()
            for _ in 0..<5 { _ = b.nextDelay(now: MonotonicTime(nanoseconds: 0), entropy: &e) }
            delays.insert(b.nextDelay(now: MonotonicTime(nanoseconds: 0), entropy: &e).nanoseconds)
        }
        #expect(delays.count > 40)
        #expect(delays.allSatisfy { $0 >= 4_000_000_000 && $0 <= 8_000_000_000 })
    }
}
