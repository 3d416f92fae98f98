/// Reads HuJSON (JWCC: JSON with `//` and `/* */` comments and trailing commas), the format of
/// Tailscale policy files, so admins can bring theirs unchanged. Foundation's JSON reader has
/// neither comments nor positions; every value here carries its line:column.
///
/// The input is an admin's file or an API body: it is bounded in size, nesting depth and string
/// length, and no input traps or recurses deeper than `maxDepth`.
public struct HuJSONReader: Sendable {
    public struct Limits: Sendable {
        public var maxBytes: Int
        public var maxDepth: Int
        public var maxStringBytes: Int

        /// A policy for thousands of nodes is well under 1 MiB; nesting beyond a few levels
        /// means a broken file, not a policy.
        public init(maxBytes: Int = 1 << 20, maxDepth: Int = 32, maxStringBytes: Int = 4096) {
            self.maxBytes = maxBytes
            self.maxDepth = maxDepth
            self.maxStringBytes = maxStringBytes
        }
    }

    public var limits: Limits

    public init(limits: Limits = Limits()) { self.limits = limits }

    public func parse(_ text: String) throws(PolicyError) -> HuJSONValue {
        // Checked before the copy, so an oversized body costs nothing more.
        try checkSize(text.utf8.count)
        return try parse(bytes: Array(text.utf8))
    }

    public func parse(bytes: [UInt8]) throws(PolicyError) -> HuJSONValue {
        try checkSize(bytes.count)
        var scanner = Scanner(bytes: bytes, limits: limits)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { scanner.index = 3 }
        try scanner.skipSpaceAndComments()
        let value = try scanner.value(depth: 0)
        try scanner.skipSpaceAndComments()
        guard scanner.atEnd else { throw scanner.error("unexpected text after the document's value") }
        return value
    }

    func checkSize(_ count: Int) throws(PolicyError) {
        guard count <= limits.maxBytes else {
            throw PolicyError("the document is \(count) bytes, more than the \(limits.maxBytes) allowed",
                              at: SourcePosition(line: 1, column: 1))
        }
    }
}

private struct Scanner {
    let bytes: [UInt8]
    let limits: HuJSONReader.Limits
    var index = 0
    var line = 1
    var column = 1

    init(bytes: [UInt8], limits: HuJSONReader.Limits) {
        self.bytes = bytes
        self.limits = limits
    }

    var atEnd: Bool { index >= bytes.count }
    var position: SourcePosition { SourcePosition(line: line, column: column) }
    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    func error(_ reason: String) -> PolicyError { PolicyError(reason, at: position) }

    /// Moves one byte on, counting lines and (per Unicode scalar, not per byte) columns.
    mutating func advance() {
        let c = bytes[index]
        index += 1
        if c == UInt8(ascii: "\n") {
            line += 1
            column = 1
        } else if c & 0xC0 != 0x80 {
            column += 1
        }
    }

    mutating func skipSpaceAndComments() throws(PolicyError) {
        while let c = peek {
            switch c {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                advance()
            case UInt8(ascii: "/"):
                let start = position
                guard index + 1 < bytes.count else { throw error("a lone '/' is not a comment") }
                if bytes[index + 1] == UInt8(ascii: "/") {
                    while let d = peek, d != UInt8(ascii: "\n") { advance() }
                } else if bytes[index + 1] == UInt8(ascii: "*") {
                    advance(); advance()
                    var closed = false
                    while !atEnd {
                        if bytes[index] == UInt8(ascii: "*"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "/") {
                            advance(); advance()
                            closed = true
                            break
                        }
                        advance()
                    }
                    guard closed else { throw PolicyError("the comment started here is never closed with '*/'", at: start) }
                } else {
                    throw error("a lone '/' is not a comment")
                }
            default:
                return
            }
        }
    }

    mutating func value(depth: Int) throws(PolicyError) -> HuJSONValue {
        let start = position
        guard let c = peek else { throw error("the document ends where a value was expected") }
        switch c {
        case UInt8(ascii: "{"):
            return try object(depth: depth + 1, start: start)
        case UInt8(ascii: "["):
            return try array(depth: depth + 1, start: start)
        case UInt8(ascii: "\""):
            return HuJSONValue(.string(try string()), at: start)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return HuJSONValue(.number(try number()), at: start)
        case UInt8(ascii: "t"):
            try literal("true")
            return HuJSONValue(.bool(true), at: start)
        case UInt8(ascii: "f"):
            try literal("false")
            return HuJSONValue(.bool(false), at: start)
        case UInt8(ascii: "n"):
            try literal("null")
            return HuJSONValue(.null, at: start)
        default:
            throw error("expected a value (object, array, string, number, true, false or null)")
        }
    }

    mutating func enter(depth: Int, start: SourcePosition) throws(PolicyError) {
        guard depth <= limits.maxDepth else {
            throw PolicyError("nesting is deeper than the \(limits.maxDepth) levels allowed", at: start)
        }
    }

    mutating func object(depth: Int, start: SourcePosition) throws(PolicyError) -> HuJSONValue {
        try enter(depth: depth, start: start)
        advance()  // {
        var members: [HuJSONMember] = []
        var seen: [String: SourcePosition] = [:]
        while true {
            try skipSpaceAndComments()
            guard let c = peek else { throw PolicyError("the object started here is never closed with '}'", at: start) }
            if c == UInt8(ascii: "}") { advance(); break }
            guard c == UInt8(ascii: "\"") else { throw error("expected a quoted key or '}'") }
            let keyPosition = position
            let key = try string()
            if let earlier = seen[key] {
                throw PolicyError("duplicate key \"\(key)\" (first at \(earlier))", at: keyPosition)
            }
            seen[key] = keyPosition
            try skipSpaceAndComments()
            guard peek == UInt8(ascii: ":") else { throw error("expected ':' after the key") }
            advance()
            try skipSpaceAndComments()
            let v = try value(depth: depth)
            members.append(HuJSONMember(key: key, keyPosition: keyPosition, value: v))
            try skipSpaceAndComments()
            guard let next = peek else { throw PolicyError("the object started here is never closed with '}'", at: start) }
            if next == UInt8(ascii: ",") { advance(); continue }
            if next == UInt8(ascii: "}") { advance(); break }
            throw error("expected ',' or '}' after the object member")
        }
        return HuJSONValue(.object(members), at: start)
    }

    mutating func array(depth: Int, start: SourcePosition) throws(PolicyError) -> HuJSONValue {
        try enter(depth: depth, start: start)
        advance()  // [
        var elements: [HuJSONValue] = []
        while true {
            try skipSpaceAndComments()
            guard let c = peek else { throw PolicyError("the array started here is never closed with ']'", at: start) }
            if c == UInt8(ascii: "]") { advance(); break }
            elements.append(try value(depth: depth))
            try skipSpaceAndComments()
            guard let next = peek else { throw PolicyError("the array started here is never closed with ']'", at: start) }
            if next == UInt8(ascii: ",") { advance(); continue }
            if next == UInt8(ascii: "]") { advance(); break }
            throw error("expected ',' or ']' after the array element")
        }
        return HuJSONValue(.array(elements), at: start)
    }

    mutating func literal(_ word: StaticString) throws(PolicyError) {
        let expected = word.withUTF8Buffer { Array($0) }
        guard bytes.count - index >= expected.count, Array(bytes[index..<index + expected.count]) == expected else {
            throw error("expected '\(word)'")
        }
        for _ in expected { advance() }
        if let c = peek, isWordByte(c) { throw error("unexpected text after '\(word)'") }
    }

    /// JSON's number grammar; the text is kept, not converted (fields convert with their bounds).
    mutating func number() throws(PolicyError) -> String {
        let begin = index
        if peek == UInt8(ascii: "-") { advance() }
        guard let first = peek, isDigit(first) else { throw error("a number needs a digit here") }
        if first == UInt8(ascii: "0") {
            advance()
            if let c = peek, isDigit(c) { throw error("numbers may not have leading zeros") }
        } else {
            while let c = peek, isDigit(c) { advance() }
        }
        if peek == UInt8(ascii: ".") {
            advance()
            guard let c = peek, isDigit(c) else { throw error("a decimal point needs a digit after it") }
            while let c = peek, isDigit(c) { advance() }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            advance()
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { advance() }
            guard let c = peek, isDigit(c) else { throw error("an exponent needs a digit") }
            while let c = peek, isDigit(c) { advance() }
        }
        if let c = peek, isWordByte(c) { throw error("unexpected text after the number") }
        guard index - begin <= 64 else {
            throw PolicyError("a number longer than 64 characters", at: SourcePosition(line: line, column: column - (index - begin)))
        }
        return String(decoding: bytes[begin..<index], as: UTF8.self)
    }

    mutating func string() throws(PolicyError) -> String {
        let start = position
        advance()  // "
        var out: [UInt8] = []
        while true {
            guard let c = peek else { throw PolicyError("the string started here is never closed with '\"'", at: start) }
            guard out.count <= limits.maxStringBytes else {
                throw PolicyError("a string longer than the \(limits.maxStringBytes) bytes allowed", at: start)
            }
            if c == UInt8(ascii: "\"") { advance(); break }
            if c < 0x20 { throw error("control characters (such as a newline) must be escaped inside strings") }
            if c != UInt8(ascii: "\\") {
                out.append(c)
                advance()
                continue
            }
            advance()
            guard let e = peek else { throw PolicyError("the string started here is never closed with '\"'", at: start) }
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                advance()
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard peek == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") else {
                        throw error("a high surrogate \\u escape must be followed by a low one")
                    }
                    advance(); advance()
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw error("expected a low surrogate \\u escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw error("a low surrogate \\u escape without a high one")
                }
                guard let u = Unicode.Scalar(scalar) else { throw error("\\u escape is not a Unicode scalar") }
                out.append(contentsOf: Array(String(Character(u)).utf8))
                continue
            default:
                throw error("unknown escape '\\\(String(decoding: [e], as: UTF8.self))' in a string")
            }
            advance()
        }
        guard let text = String(validating: out, as: UTF8.self) else {
            throw PolicyError("the string started here is not valid UTF-8", at: start)
        }
        return text
    }

    mutating func hex4() throws(PolicyError) -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard let c = peek, let d = hexDigit(c) else { throw error("\\u needs four hex digits") }
            v = v << 4 | UInt32(d)
            advance()
        }
        return v
    }
}

private func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

private func isWordByte(_ c: UInt8) -> Bool {
    isDigit(c) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
        || c == UInt8(ascii: "_") || c == UInt8(ascii: ".") || c >= 0x80
}

private func hexDigit(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
    default: return nil
    }
}
