/// Reconnect delays for every link that retries: the control loop's registration and long-poll,
/// and each relay connection. One schedule for all of them, so "how long until mesh tries again"
/// has one answer.
///
/// Exponential from `initial`, doubling per failure, capped at `maximum`, with "equal jitter":
/// a delay is drawn uniformly from [ceiling/2, ceiling], so a fleet that lost its coordinator
/// or relay does not come back in step, yet no retry comes sooner than half the schedule.
/// A link that stayed up for `stableAfter` starts the schedule over on its next failure; a link
/// that confirms success on every round calls `reset()` instead. Pure: time and random bytes
/// are parameters.
public struct Backoff: Sendable, Equatable {
    public var initial: Duration
    public var maximum: Duration
    public var stableAfter: Duration
    public private(set) var failures = 0
    private var connectedAt: MonotonicTime?

    public init(initial: Duration = .milliseconds(250), maximum: Duration = .seconds(30),
                stableAfter: Duration = .seconds(10)) {
        self.initial = initial
        self.maximum = maximum
        self.stableAfter = stableAfter
    }

    /// The link came up (handshake done) at `now`.
    public mutating func connected(now: MonotonicTime) { connectedAt = now }

    /// The ceiling (before jitter) of the next delay; doubling saturates at `maximum`.
    public var currentCeiling: Duration {
        let maxNs = max(maximum.nanoseconds, 0)
        var ns = min(max(initial.nanoseconds, 0), maxNs)
        for _ in 0..<min(failures, 62) {
            if ns >= maxNs / 2 { return .nanoseconds(maxNs) }
            ns *= 2
        }
        return .nanoseconds(min(ns, maxNs))
    }

    /// The link failed or closed at `now`: how long to wait before the next attempt.
    public mutating func nextDelay<E: EntropySource>(now: MonotonicTime, entropy: inout E) -> Duration {
        if let c = connectedAt, now - c >= stableAfter { failures = 0 }
        connectedAt = nil
        let ceiling = currentCeiling.nanoseconds
        if failures < Int.max { failures += 1 }
        let half = ceiling / 2
        var r: UInt64 = 0
        withUnsafeMutableBytes(of: &r) { entropy.fill($0) }
        let jitter = half > 0 ? Int64(r % UInt64(half + 1)) : 0
        return .nanoseconds(ceiling - half + jitter)
    }

    /// Forget past failures.
    public mutating func reset() {
        failures = 0
        connectedAt = nil
    }
}
