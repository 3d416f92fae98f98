import Foundation

/// A value of the TOML subset that mesh's config files use (meshcoord's and meshd's): key =
/// value lines, strings, numbers, booleans and one-line arrays. The subset is small on purpose:
/// a config file an admin edits by hand, every mistake reported with its file and line by the
/// caller, no nesting that could make a hostile file expensive.
public enum TOMLValue: Equatable, Sendable {
    /// Why a value could not be read; the caller adds the file, line and key.
    public struct SyntaxError: Error, CustomStringConvertible {
        public let description: String
        init(_ d: String) { description = d }
    }

    case string(String)
    case integer(Int)
    case double(Double)
    case bool(Bool)
    case array([TOMLValue])

    /// The line without its comment (a `#` outside a string).
    public static func stripComment(_ line: String) -> String {
        var inString = false, escaped = false
        var out = ""
        for ch in line {
            if inString {
                if escaped { escaped = false } else if ch == "\\" { escaped = true } else if ch == "\"" { inString = false }
            } else if ch == "\"" {
                inString = true
            } else if ch == "#" {
                break
            }
            out.append(ch)
        }
        return out
    }

    /// One value: a string ("..." with `\n`, `\t`, `\\`, `\"` escapes, or '...'), an integer or
    /// float (`_` separators), a boolean, or a one-line array of these.
    public static func parse(_ text: String) throws -> TOMLValue {
        var chars = Substring(text)
        let v = try parseValue(&chars)
        guard chars.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw SyntaxError("unexpected text after the value: \"\(chars)\"")
        }
        return v
    }

    private static func parseValue(_ s: inout Substring) throws -> TOMLValue {
        s = s.drop(while: { $0 == " " || $0 == "\t" })
        guard let first = s.first else { throw SyntaxError("missing value") }
        if first == "\"" {
            s = s.dropFirst()
            var out = ""
            while let c = s.first {
                s = s.dropFirst()
                if c == "\"" { return .string(out) }
                if c == "\\" {
                    guard let e = s.first else { break }
                    s = s.dropFirst()
                    switch e {
                    case "n": out.append("\n")
                    case "t": out.append("\t")
                    case "\\": out.append("\\")
                    case "\"": out.append("\"")
                    default: throw SyntaxError("unsupported escape \\\(e) in string")
                    }
                } else {
                    out.append(c)
                }
            }
            throw SyntaxError("string is not closed with \"")
        }
        if first == "'" {
            s = s.dropFirst()
            guard let end = s.firstIndex(of: "'") else { throw SyntaxError("string is not closed with '") }
            let v = String(s[..<end])
            s = s[s.index(after: end)...]
            return .string(v)
        }
        if first == "[" {
            s = s.dropFirst()
            var items: [TOMLValue] = []
            while true {
                s = s.drop(while: { $0 == " " || $0 == "\t" })
                if s.first == "]" { s = s.dropFirst(); return .array(items) }
                items.append(try parseValue(&s))
                s = s.drop(while: { $0 == " " || $0 == "\t" })
                if s.first == "," { s = s.dropFirst(); continue }
                if s.first == "]" { s = s.dropFirst(); return .array(items) }
                throw SyntaxError("array must be [a, b, ...] on one line")
            }
        }
        let token = s.prefix(while: { $0 != "," && $0 != "]" && $0 != " " && $0 != "\t" })
        s = s.dropFirst(token.count)
        if token == "true" { return .bool(true) }
        if token == "false" { return .bool(false) }
        let digits = token.replacingOccurrences(of: "_", with: "")
        if let i = Int(digits) { return .integer(i) }
        if let d = Double(digits) { return .double(d) }
        throw SyntaxError("\"\(token)\" is not a value (strings need quotes)")
    }
}
