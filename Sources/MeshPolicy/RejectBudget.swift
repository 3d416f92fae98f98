import CheckedArithmetic
import MeshBase

/// How many answers to refused or unroutable packets may be sent: `burst` at once, then
/// `perSecond` (GCRA). Every answer is a packet built for a packet someone else chose to
/// send, so without a bound a flood of them would make meshd build and write as fast as the
/// flood arrives.
public struct RejectBudget: Sendable {
    public let perSecond: Int
    public let burst: Int
    /// When the budget is next "empty".
    var theoreticalArrival = MonotonicTime(nanoseconds: .min)

    public init(perSecond: Int, burst: Int) {
        self.perSecond = perSecond
        self.burst = burst
    }

    /// Takes one answer from the budget if it has room.
    public mutating func take(now: MonotonicTime) -> Bool {
        let rate = min(max(1, perSecond), 1_000_000_000)
        let interval = Duration.nanoseconds(1_000_000_000 / Int64(rate))
        let window = Duration.nanoseconds(interval.nanoseconds.saturatingMultiplied(by: Int64(max(0, burst))))
        let start = max(theoreticalArrival, now)
        guard start - now < window else { return false }
        theoreticalArrival = start + interval
        return true
    }
}
