import Disco
import Testing
import MeshBase

@Suite struct TokenBucketTests {
    let t0 = MonotonicTime(nanoseconds: 5_000_000_000)

    @Test func burstThenOnePerInterval() {
        var b = TokenBucket(burst: 3, every: .milliseconds(100))
        #expect((0..<5).map { _ in b.take(now: t0) } == [true, true, true, false, false])
        do { let r = b.take(now: t0 + .milliseconds(99)); #expect(!r) }
        do { let r = b.take(now: t0 + .milliseconds(100)); #expect(r) }
        do { let r = b.take(now: t0 + .milliseconds(150)); #expect(!r) }
        // A long quiet spell refills to the burst, not beyond.
        let later = t0 + .seconds(60)
        #expect((0..<5).map { _ in b.take(now: later) } == [true, true, true, false, false])
    }

    @Test func clockSteppingBackOrExtremeTimesNeverTrapNorRefill() {
        var b = TokenBucket(burst: 1, every: .seconds(1))
        do { let r = b.take(now: t0); #expect(r) }
        do { let r = b.take(now: t0 + .seconds(-100)); #expect(!r) }
        do { let r = b.take(now: MonotonicTime(nanoseconds: .min)); #expect(!r) }
        // A gap too large to compute refills nothing (and does not trap); time then runs on.
        do { let r = b.take(now: MonotonicTime(nanoseconds: .max)); #expect(!r) }
        do { let r = b.take(now: MonotonicTime(nanoseconds: .min)); #expect(!r) }
        do { let r = b.take(now: MonotonicTime(nanoseconds: .min + 2_000_000_000)); #expect(r) }
        var huge = TokenBucket(burst: Int.max, every: .seconds(Int64.max))
        do { let r = huge.take(now: t0); #expect(r) }
    }
}

@Suite struct SourceRateLimiterTests {
    let t0 = MonotonicTime(nanoseconds: 5_000_000_000)

    @Test func oneFloodingSourceDoesNotSpendOthersBudgets() {
        var l = SourceRateLimiter(slots: 1024, burst: 4, every: .seconds(1), seed: 7)
        let flooder = UDPAddress(ipv4: 198, 51, 100, 66, port: 4000)
        var passed = 0
        for _ in 0..<10_000 where l.take(flooder, now: t0) { passed += 1 }
        #expect(passed == 4)
        // Of 200 other sources, nearly all still have their own budget (a few may share a slot).
        var fine = 0
        for i in 0..<200 where l.take(UDPAddress(ipv4: 203, 0, 113, UInt8(i), port: 41641), now: t0) { fine += 1 }
        #expect(fine >= 190)
        let again = l.take(flooder, now: t0 + .seconds(1))
        #expect(again)
    }
}

@Suite struct ResponseCreditTests {
    @Test func spendsOnlyWhatWasEarnedUpToTheCap() {
        var c = ResponseCredit(cap: 1000)
        let r0 = c.spend(1)
        #expect(!r0)
        c.earn(300)
        let r1 = c.spend(200), r2 = c.spend(101), r3 = c.spend(100)
        #expect(r1 && !r2 && r3)
        c.earn(Int.max)
        #expect(c.balance == 1000)
        c.earn(-5)
        let rn = c.spend(-1)
        #expect(c.balance == 1000 && !rn)
    }
}

@Suite struct DiscoDropCountersTests {
    @Test func everyReasonIsNamedAndCounted() {
        var d = DiscoDropCounters()
        #expect(Set(d.byName.keys) == ["unknownSender", "badSeal", "malformed", "rateLimited", "tooManyCandidates", "wrongPeer"])
        #expect(d.byName.values.allSatisfy { $0 == 0 })
        for (i, r) in DiscoDropReason.allCases.enumerated() { for _ in 0...i { d.count(r) } }
        #expect(d[.unknownSender] == 1 && d[.wrongPeer] == 6)
        #expect(d.total == 21)
    }
}
