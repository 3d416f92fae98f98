/// Monotonic time in nanoseconds, supplied by the driver: protocol code never reads a clock.
/// Arithmetic saturates: a duration from a config file or a flag, however large, cannot trap.
public struct MonotonicTime: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64
    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }
    public static func < (a: Self, b: Self) -> Bool { a.nanoseconds < b.nanoseconds }
    public static func + (a: Self, d: Duration) -> Self {
        let (sum, overflow) = a.nanoseconds.addingReportingOverflow(d.nanoseconds)
        return Self(nanoseconds: overflow ? (d.nanoseconds > 0 ? .max : .min) : sum)
    }
    public static func - (a: Self, b: Self) -> Duration {
        let (difference, overflow) = a.nanoseconds.subtractingReportingOverflow(b.nanoseconds)
        return .nanoseconds(overflow ? (b.nanoseconds < 0 ? Int64.max : Int64.min) : difference)
    }
    /// nil-free: NaN is zero, out-of-range values clamp to the representable range.
    public static func seconds(_ s: Double) -> Self {
        let ns = s * 1e9
        guard ns.isFinite else { return Self(nanoseconds: ns.isNaN ? 0 : (ns > 0 ? .max : .min)) }
        return Self(nanoseconds: ns >= 9.2e18 ? .max : (ns <= -9.2e18 ? .min : Int64(ns)))
    }
    public var description: String { "\(Double(nanoseconds) / 1e9)s" }
}

extension Duration {
    /// Whole nanoseconds, saturating at Int64's range (a Duration can hold far more).
    public var nanoseconds: Int64 {
        let (s, a) = components
        let (scaled, overflow) = s.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return s > 0 ? .max : .min }
        let (sum, overflow2) = scaled.addingReportingOverflow(a / 1_000_000_000)
        return overflow2 ? (s > 0 ? .max : .min) : sum
    }
}
