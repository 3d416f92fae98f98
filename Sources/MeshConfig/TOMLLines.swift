import Foundation

/// The line structure shared by meshcoord's and meshd's config files, read once so both
/// report the same mistakes the same way: a UTF-8 byte order mark at the start is skipped
/// (some editors write one), lines end in LF or CRLF, `#` starts a comment outside a string,
/// blank lines are skipped, and every other line is `[table header]` or `key = value`.
///
/// A key set twice in one table is refused here (TOML says so, and a silent "last one wins"
/// hides typos); the same key in two `[[array]]` tables is fine, since each header starts a
/// new table. What a table or key means, and the value's syntax, are the caller's.
public enum TOMLLines {
    public enum Line: Equatable, Sendable {
        /// A `[...]` line, as written (comment and surrounding spaces removed).
        case table(lineNumber: Int, header: String)
        /// `key = value`, the value still text for `TOMLValue.parse`.
        case entry(lineNumber: Int, key: String, rawValue: String)

        public var lineNumber: Int {
            switch self {
            case .table(let n, _), .entry(let n, _, _): return n
            }
        }
    }

    /// A line that is neither a table header nor `key = value`, or a duplicate key. The caller
    /// prefixes its file name: `"\(file):\(lineNumber): \(message)"`.
    public struct Problem: Error, CustomStringConvertible {
        public let lineNumber: Int
        public let message: String
        public var description: String { "line \(lineNumber): \(message)" }
    }

    /// Hands `body` the text's table headers and entries in file order, so the first mistake
    /// reported is the earliest one, whether this reader finds it (a `Problem`) or `body` does
    /// (whatever `body` throws passes through unchanged).
    public static func read(_ rawText: String, _ body: (Line) throws -> Void) throws {
        var text = rawText
        if text.unicodeScalars.first == "\u{FEFF}" { text.unicodeScalars.removeFirst() }
        var seenInTable: [String: Int] = [:]
        var tableHeader: String? = nil
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            let lineNumber = index + 1
            let line = TOMLValue.stripComment(String(rawLine)).trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                tableHeader = line
                seenInTable = [:]
                try body(.table(lineNumber: lineNumber, header: line))
                continue
            }
            guard let eq = line.firstIndex(of: "=") else {
                throw Problem(lineNumber: lineNumber, message: "expected key = value, got \(shown(line))")
            }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            let rawValue = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if let first = seenInTable[key] {
                let inTable = tableHeader.map { " in this \($0) table" } ?? ""
                throw Problem(lineNumber: lineNumber, message: "duplicate key \(shown(key))\(inTable) (first set on line \(first))")
            }
            seenInTable[key] = lineNumber
            try body(.entry(lineNumber: lineNumber, key: key, rawValue: rawValue))
        }
    }

    /// Text from a file, shortened to 60 characters and with control characters escaped, in
    /// quotes: an error message must not carry a hostile file's terminal escapes.
    public static func shown(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars.prefix(60) {
            if u.value < 0x20 || u.value == 0x7F { out += "\\u{\(String(u.value, radix: 16))}" } else { out.unicodeScalars.append(u) }
        }
        return "\"" + out + (s.unicodeScalars.count > 60 ? "...\"" : "\"")
    }
}
