import MeshBase

/// A set of IPv4 and IPv6 addresses kept as sorted, disjoint, non-adjacent intervals. It is
/// the compact form of a rule's sources: 1,000 members of a group with consecutive overlay
/// addresses are one interval (a handful of prefixes on the wire), and membership is a binary
/// search that never allocates, so the packet filter can ask it per new flow.
public struct AddressSet: Hashable, Sendable, CustomStringConvertible {
    public struct Interval<Bound: FixedWidthInteger & UnsignedInteger & Sendable>: Hashable, Sendable {
        public var low: Bound
        public var high: Bound
    }

    public private(set) var v4: [Interval<UInt32>] = []
    public private(set) var v6: [Interval<UInt128>] = []

    public init() {}

    public init(prefixes: some Sequence<IPPrefix>) {
        var v4: [Interval<UInt32>] = []
        var v6: [Interval<UInt128>] = []
        for p in prefixes {
            switch p.masked.address {
            case .v4(let a):
                let hostBits = UInt32(32 - p.length)
                let span: UInt32 = hostBits == 32 ? .max : (UInt32(1) << hostBits) - 1
                v4.append(Interval(low: a, high: a | span))
            case .v6(let high, let low):
                let a = UInt128(high) << 64 | UInt128(low)
                let hostBits = 128 - p.length
                let span: UInt128 = hostBits == 128 ? .max : (UInt128(1) << UInt128(hostBits)) - 1
                v6.append(Interval(low: a, high: a | span))
            }
        }
        self.v4 = Self.merged(v4)
        self.v6 = Self.merged(v6)
    }

    public init(addresses: some Sequence<IPAddress>) {
        self.init(prefixes: addresses.map { IPPrefix(host: $0) })
    }

    /// Every IPv4 and IPv6 address (`*`).
    public static let everything = AddressSet(prefixes: [try! IPPrefix("0.0.0.0/0"), try! IPPrefix("::/0")])

    public var isEmpty: Bool { v4.isEmpty && v6.isEmpty }

    public func union(_ other: AddressSet) -> AddressSet {
        if other.isEmpty { return self }
        if isEmpty { return other }
        var out = AddressSet()
        out.v4 = Self.merged(v4 + other.v4)
        out.v6 = Self.merged(v6 + other.v6)
        return out
    }

    /// Unions many sets in one sort instead of pairwise (which would be quadratic).
    public static func union(_ sets: [AddressSet]) -> AddressSet {
        if sets.count == 1 { return sets[0] }
        var out = AddressSet()
        out.v4 = merged(sets.flatMap(\.v4))
        out.v6 = merged(sets.flatMap(\.v6))
        return out
    }

    @inline(__always)
    public func contains(_ address: IPAddress) -> Bool {
        switch address {
        case .v4(let a): return Self.search(v4, a)
        case .v6(let high, let low): return Self.search(v6, UInt128(high) << 64 | UInt128(low))
        }
    }

    /// The fewest CIDR prefixes that cover exactly this set: the form a netmap carries.
    public var prefixes: [IPPrefix] {
        var out: [IPPrefix] = []
        for i in v4 {
            Self.decompose(i, width: 32) { start, length in
                out.append(try! IPPrefix(address: .v4(UInt32(truncatingIfNeeded: start)), length: length))
            }
        }
        for i in v6 {
            Self.decompose(i, width: 128) { start, length in
                out.append(try! IPPrefix(address: .v6(high: UInt64(truncatingIfNeeded: start >> 64),
                                                      low: UInt64(truncatingIfNeeded: start)), length: length))
            }
        }
        return out
    }

    public var description: String { prefixes.map(\.description).joined(separator: ",") }

    static func merged<B>(_ intervals: [Interval<B>]) -> [Interval<B>] {
        guard intervals.count > 1 else { return intervals }
        let sorted = intervals.sorted { $0.low < $1.low }
        var out: [Interval<B>] = []
        out.reserveCapacity(sorted.count)
        for i in sorted {
            if let last = out.last, last.high == .max || i.low <= last.high + 1 {
                out[out.count - 1].high = max(last.high, i.high)
            } else {
                out.append(i)
            }
        }
        return out
    }

    @inline(__always)
    static func search<B>(_ intervals: [Interval<B>], _ value: B) -> Bool {
        var low = 0, high = intervals.count
        while low < high {
            let mid = (low + high) >> 1
            let i = intervals[mid]
            if value < i.low { high = mid } else if value > i.high { low = mid + 1 } else { return true }
        }
        return false
    }

    /// Splits [low, high] into aligned power-of-two blocks, largest first (the classic
    /// range-to-CIDR walk); at most 2·width blocks per interval.
    static func decompose<B>(_ interval: Interval<B>, width: Int, _ emit: (UInt128, Int) -> Void) {
        var start = UInt128(interval.low)
        let end = UInt128(interval.high)
        while true {
            // Largest block aligned at `start` that stays within `end`.
            var size = start == 0 ? width : min(width, start.trailingZeroBitCount)
            while size > 0 {
                let last = size == 128 ? UInt128.max : start + ((UInt128(1) << UInt128(size)) - 1)
                if last <= end && last >= start { break }
                size -= 1
            }
            emit(start, width - size)
            let blockLast = size == 128 ? UInt128.max : start + ((UInt128(1) << UInt128(size)) - 1)
            if blockLast >= end { return }
            start = blockLast + 1
        }
    }
}
