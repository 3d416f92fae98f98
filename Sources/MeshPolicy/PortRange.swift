/// An inclusive range of TCP/UDP ports, as a policy's `dst` writes them (`22`, `8000-8999`).
public struct PortRange: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var first: UInt16
    public var last: UInt16

    public init(_ first: UInt16, _ last: UInt16) {
        self.first = min(first, last)
        self.last = max(first, last)
    }

    public init(single port: UInt16) { self.init(port, port) }

    public static let all = PortRange(0, 65535)

    public func contains(_ port: UInt16) -> Bool { port >= first && port <= last }

    public static func < (a: Self, b: Self) -> Bool { (a.first, a.last) < (b.first, b.last) }

    public var description: String {
        if self == .all { return "*" }
        return first == last ? "\(first)" : "\(first)-\(last)"
    }

    /// Parses a dst's port part: `*`, `22`, `80-90`, or a comma list of those. The reason in a
    /// failure is one sentence for the policy error.
    public static func parseList(_ text: Substring) -> Result<[PortRange], PortListError> {
        if text == "*" { return .success([.all]) }
        var ranges: [PortRange] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            if item.isEmpty { return .failure(PortListError("an empty entry in the port list '\(text)'")) }
            let ends = item.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            guard let low = port(ends[0]) else {
                return .failure(PortListError("'\(ends[0])' is not a port (0-65535)"))
            }
            var high = low
            if ends.count == 2 {
                guard let h = port(ends[1]) else { return .failure(PortListError("'\(ends[1])' is not a port (0-65535)")) }
                guard h >= low else { return .failure(PortListError("the port range '\(item)' ends before it starts")) }
                high = h
            }
            ranges.append(PortRange(low, high))
        }
        return .success(normalized(ranges))
    }

    /// Decimal digits only, at most five, at most 65535: "+22", "0x16" and "99999" are refused.
    static func port(_ text: Substring) -> UInt16? {
        guard !text.isEmpty, text.utf8.count <= 5, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              let v = Int(text), v <= 65535 else { return nil }
        return UInt16(v)
    }

    /// Sorted, with overlapping and adjacent ranges merged: the compact form compiled rules carry.
    public static func normalized(_ ranges: [PortRange]) -> [PortRange] {
        var out: [PortRange] = []
        for r in ranges.sorted() {
            if let last = out.last, Int(r.first) <= Int(last.last) + 1 {
                out[out.count - 1].last = max(last.last, r.last)
            } else {
                out.append(r)
            }
        }
        return out
    }
}

public struct PortListError: Error, Hashable, Sendable {
    public var reason: String
    init(_ reason: String) { self.reason = reason }
}

extension Array where Element == PortRange {
    /// Binary search over a normalized list: rules are checked on every new flow.
    @inline(__always)
    func containsPort(_ port: UInt16) -> Bool {
        var low = 0, high = count
        while low < high {
            let mid = (low + high) >> 1
            let r = self[mid]
            if port < r.first { high = mid } else if port > r.last { low = mid + 1 } else { return true }
        }
        return false
    }
}
