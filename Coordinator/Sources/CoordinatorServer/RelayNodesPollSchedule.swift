/// When a relay asks the coordinator again after a failed `/v1/relay/nodes` request, and
/// when it says so in its log. Pure: the time (seconds on a monotonic clock) and the random
/// draw come in as arguments.
///
/// Retries back off exponentially (initial·2ⁿ, capped, with jitter so relays that lost the
/// coordinator together do not return in step). The first failure is logged at once, later
/// ones at most once per `reportInterval` with how many there were, so a coordinator that is
/// down for a day costs a line a minute, not one per retry.
public struct RelayNodesPollSchedule: Sendable, Equatable {
    public var initialDelay: Double
    public var maximumDelay: Double
    public var reportInterval: Double
    public private(set) var consecutiveFailures = 0
    private var unreported = 0
    private var lastReport: Double?

    public init(initialDelay: Double = 0.5, maximumDelay: Double = 30, reportInterval: Double = 60) {
        self.initialDelay = initialDelay
        self.maximumDelay = max(initialDelay, maximumDelay)
        self.reportInterval = reportInterval
    }

    /// A request failed at `now`. Returns the seconds to wait before the next one, and the
    /// number of failures to report now (nil: not yet, the rate limit holds).
    /// `random` is a draw in [0, 1).
    public mutating func failed(now: Double, random: Double) -> (delay: Double, report: Int?) {
        let exponent = min(consecutiveFailures, 30)
        consecutiveFailures += 1
        unreported += 1
        let base = min(maximumDelay, initialDelay * Double(1 << exponent))
        let delay = min(maximumDelay, base * (0.75 + 0.5 * min(max(random, 0), 1)))
        var report: Int? = nil
        if lastReport.map({ now - $0 >= reportInterval || now < $0 }) ?? true {
            report = unreported
            unreported = 0
            lastReport = now
        }
        return (delay, report)
    }

    /// A request succeeded. Returns how many failures in a row it ends (0: none), so the
    /// driver can say the coordinator is reachable again.
    public mutating func succeeded() -> Int {
        defer {
            consecutiveFailures = 0
            unreported = 0
            lastReport = nil
        }
        return consecutiveFailures
    }
}
