import MeshBase
import Testing

@Suite struct MonotonicTimeTests {
    @Test func arithmeticSaturatesInsteadOfTrapping() {
        let t = MonotonicTime(nanoseconds: 5)
        #expect((t + .seconds(1)).nanoseconds == 1_000_000_005)
        #expect((t + .seconds(Int64.max)).nanoseconds == .max)
        #expect((MonotonicTime(nanoseconds: .min + 1) + .nanoseconds(-5)).nanoseconds == .min)
        #expect(MonotonicTime(nanoseconds: .max) - MonotonicTime(nanoseconds: .min) == .nanoseconds(Int64.max))
        #expect(MonotonicTime(nanoseconds: .min) - MonotonicTime(nanoseconds: .max) == .nanoseconds(Int64.min))
        #expect(t - MonotonicTime(nanoseconds: 2) == .nanoseconds(3))
    }

    @Test func secondsFromADoubleClamp() {
        #expect(MonotonicTime.seconds(1.5).nanoseconds == 1_500_000_000)
        #expect(MonotonicTime.seconds(1e300).nanoseconds == .max)
        #expect(MonotonicTime.seconds(-1e300).nanoseconds == .min)
        #expect(MonotonicTime.seconds(.nan).nanoseconds == 0)
        #expect(MonotonicTime.seconds(.infinity).nanoseconds == .max)
    }

    @Test func durationNanosecondsSaturate() {
        #expect(Duration.milliseconds(3).nanoseconds == 3_000_000)
        #expect(Duration.seconds(Int64.max).nanoseconds == .max)
        #expect(Duration.seconds(Int64.min).nanoseconds == .min)
    }
}
