/// A value read from a HuJSON (JWCC) document, with the position it starts at, so that every
/// later check (unknown user, bad port) can point at the exact text it refuses.
public struct HuJSONValue: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case null
        case bool(Bool)
        /// The number's text as written (already checked against JSON's grammar); callers
        /// convert it with the bounds their field allows.
        case number(String)
        case string(String)
        case array([HuJSONValue])
        /// Members in file order; keys are unique (the reader refuses duplicates).
        case object([HuJSONMember])
    }

    public var kind: Kind
    public var position: SourcePosition

    public init(_ kind: Kind, at position: SourcePosition) {
        self.kind = kind
        self.position = position
    }

    /// What the value is, as an error message names it ("expected a string, found an array").
    public var kindName: String {
        switch kind {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    public var stringValue: String? {
        if case .string(let s) = kind { return s }
        return nil
    }

    public var arrayValue: [HuJSONValue]? {
        if case .array(let a) = kind { return a }
        return nil
    }

    public var objectValue: [HuJSONMember]? {
        if case .object(let o) = kind { return o }
        return nil
    }

    /// A non-negative integer no larger than `maximum`; nil for fractions, exponents, signs and
    /// anything out of range (never traps, however many digits the file has).
    public func integerValue(maximum: Int) -> Int? {
        guard case .number(let text) = kind else { return nil }
        var value = 0
        for c in text.utf8 {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int(c - UInt8(ascii: "0")))
            guard !o1, !o2, sum <= maximum else { return nil }
            value = sum
        }
        return text.isEmpty ? nil : value
    }
}

/// One `"key": value` pair of an object.
public struct HuJSONMember: Hashable, Sendable {
    public var key: String
    public var keyPosition: SourcePosition
    public var value: HuJSONValue

    public init(key: String, keyPosition: SourcePosition, value: HuJSONValue) {
        self.key = key
        self.keyPosition = keyPosition
        self.value = value
    }
}
