// Conversions of outside numbers (a TOML float, a flag, a JSON field) into the integer types
// the code uses. `Int64(someDouble)` traps on 1e300 or NaN; these return nil instead, so the
// caller can name the field in its error.

extension FixedWidthInteger {
    /// The value of `double` rounded toward zero, or nil when it is NaN, infinite or outside
    /// this type's range.
    @inlinable public init?(checkedRounding double: Double) {
        guard double.isFinite else { return nil }
        let truncated = double.rounded(.towardZero)
        // Double(Self.max) is exact for narrow types but rounds up to 2^63 (2^64) for the
        // 64-bit ones, where the bound must then be exclusive.
        let upper = Double(Self.max)
        let exact = Self.bitWidth - (Self.isSigned ? 1 : 0) <= Double.significandBitCount + 1
        guard truncated >= Double(Self.min), exact ? truncated <= upper : truncated < upper else { return nil }
        self.init(truncated)
    }

    /// `value` converted, or nil when it does not fit (unlike `init(_:)`, which traps).
    @inlinable public init?<Other: BinaryInteger>(checked value: Other) {
        self.init(exactly: value)
    }
}

/// A duration given in seconds (a flag or config value), validated into milliseconds.
public enum SecondsInput {
    /// Milliseconds for `seconds` if it is finite and within `range`; nil otherwise.
    public static func milliseconds(_ seconds: Double, within range: ClosedRange<Double>) -> Int64? {
        guard seconds.isFinite, range.contains(seconds) else { return nil }
        return Int64(checkedRounding: seconds * 1000)
    }
}
