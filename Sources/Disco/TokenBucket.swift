import MeshBase

/// A token bucket over time the caller passes in: up to `burst` events at once, then one per
/// `interval`. Every bound on what a peer (or a forged source) can make the node do is one of
/// these, so it is integer-only and never traps, whatever the clock or the gap between calls.
public struct TokenBucket: Sendable, Equatable {
    public let burst: Int32
    let intervalNanoseconds: Int64
    private var tokens: Int32
    /// Time the next token is counted from; nil until first use (a new bucket starts full).
    private var refilledAt: Int64?

    public init(burst: Int, every interval: Duration) {
        self.burst = Int32(clamping: max(1, burst))
        let ns = interval.components.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        intervalNanoseconds = ns.overflow ? .max : max(1, ns.partialValue &+ interval.components.attoseconds / 1_000_000_000)
        tokens = self.burst
    }

    /// Takes one token if there is one.
    public mutating func take(now: MonotonicTime) -> Bool {
        refill(now.nanoseconds)
        guard tokens > 0 else { return false }
        tokens -= 1
        return true
    }

    private mutating func refill(_ now: Int64) {
        guard let from = refilledAt else { refilledAt = now; return }
        let elapsed = now.subtractingReportingOverflow(from)
        // A clock that went backwards (or a wrapped difference) refills nothing.
        if elapsed.overflow || elapsed.partialValue < 0 { refilledAt = now; return }
        let earned = elapsed.partialValue / intervalNanoseconds
        guard earned > 0 else { return }
        if earned >= Int64(burst - tokens) {
            tokens = burst
            refilledAt = now
        } else {
            tokens += Int32(earned)
            refilledAt = from &+ earned &* intervalNanoseconds
        }
    }
}
