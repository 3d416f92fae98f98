import MeshBase

/// A rate limit per source address in fixed memory: sources hash into a fixed number of
/// buckets, so a flood from forged addresses can never grow a table, and a check costs one
/// hash and no allocation. Two sources sharing a slot share its budget; the seed (random,
/// from the caller) keeps an attacker from choosing addresses that collide with a peer's.
public struct SourceRateLimiter: Sendable {
    private var slots: [TokenBucket]
    private let seed: UInt64

    public init(slots: Int = 1024, burst: Int, every interval: Duration, seed: UInt64) {
        self.slots = [TokenBucket](repeating: TokenBucket(burst: burst, every: interval), count: max(1, slots))
        self.seed = seed
    }

    public mutating func take(_ source: UDPAddress, now: MonotonicTime) -> Bool {
        let i = slot(of: source)
        return slots[i].take(now: now)
    }

    func slot(of a: UDPAddress) -> Int {
        let halves = unsafeBitCast(a.ip, to: (UInt64, UInt64).self)
        var h = Self.mix(seed ^ halves.0)
        h = Self.mix(h ^ halves.1)
        h = Self.mix(h ^ UInt64(a.port))
        return Int(h % UInt64(slots.count))
    }

    /// splitmix64's finaliser: every input bit affects every output bit.
    @inline(__always) static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
