// Arithmetic on numbers that came from the network, a file or a flag must never trap: a
// trapping `+`, `-`, `*` or conversion there is a remote (or admin-typo) crash. These helpers
// are the one way such values are combined; see docs/architecture.md, "Numbers from outside".

extension FixedWidthInteger {
    /// `self + other`, pinned to the type's range instead of trapping.
    @inlinable public func saturatingAdding(_ other: Self) -> Self {
        let (value, overflow) = addingReportingOverflow(other)
        guard overflow else { return value }
        return other < 0 ? .min : .max
    }

    /// `self - other`, pinned to the type's range instead of trapping.
    @inlinable public func saturatingSubtracting(_ other: Self) -> Self {
        let (value, overflow) = subtractingReportingOverflow(other)
        guard overflow else { return value }
        return other < 0 ? .max : .min
    }

    /// `self * other`, pinned to the type's range instead of trapping.
    @inlinable public func saturatingMultiplied(by other: Self) -> Self {
        let (value, overflow) = multipliedReportingOverflow(by: other)
        guard overflow else { return value }
        return (self < 0) == (other < 0) ? .max : .min
    }
}

extension Int64 {
    /// |self - other| for any two values; the result always fits because it is unsigned.
    /// (Not named `distance(to:)`: that is Strideable's, which returns Int and traps.)
    @inlinable public func absoluteDifference(from other: Int64) -> UInt64 {
        self >= other ? UInt64(bitPattern: self &- other) : UInt64(bitPattern: other &- self)
    }
}
