import MeshCrypto

/// Exponential backoff with jitter for reconnecting to the coordinator. Pure: the random
/// draw comes in as an argument (a value in [0, 1)).
public struct Backoff: Sendable, Equatable {
    public var initial: Double
    public var maximum: Double
    public private(set) var failures = 0

    public init(initial: Double = 0.5, maximum: Double = 30) {
        self.initial = initial
        self.maximum = maximum
    }

    /// Seconds to wait after one more failure: initial·2ⁿ capped at `maximum`, times a jitter
    /// factor in [0.75, 1.25) (capped again) so a fleet that lost its coordinator does not come back in step.
    public mutating func nextDelay(random u: Double) -> Double {
        let exponent = min(failures, 30)
        failures += 1
        let base = min(maximum, initial * Double(1 << exponent))
        return min(maximum, base * (0.75 + 0.5 * min(max(u, 0), 1)))
    }

    public mutating func reset() { failures = 0 }
}

extension Backoff {
    /// A uniform draw in [0, 1) from an entropy source.
    public static func draw(_ entropy: inout some EntropySource) -> Double {
        Double(entropy.nextUInt32()) / 4_294_967_296.0
    }
}
