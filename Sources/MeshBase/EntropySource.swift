/// Where random bytes come from. Pure modules take one as an argument instead of drawing
/// randomness themselves, so tests can replay a run exactly.
public protocol EntropySource {
    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer)
}

extension EntropySource {
    public mutating func nextUInt32() -> UInt32 {
        var v: UInt32 = 0
        withUnsafeMutableBytes(of: &v) { fill($0) }
        return v
    }
}

/// A deterministic source for tests and simulations (SplitMix64).
public struct SeededEntropy: EntropySource {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        for i in 0..<buffer.count {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            buffer[i] = UInt8(truncatingIfNeeded: z)
        }
    }
}

/// So `Int.random(in:using:)`, `shuffled(using:)` and friends replay from a seed too.
extension SeededEntropy: RandomNumberGenerator {
    public mutating func next() -> UInt64 {
        var value: UInt64 = 0
        withUnsafeMutableBytes(of: &value) { fill($0) }
        return value
    }
}
