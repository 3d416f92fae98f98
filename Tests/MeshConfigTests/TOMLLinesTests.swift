import MeshConfig
import Testing

private func lines(_ text: String) throws -> [TOMLLines.Line] {
    var out: [TOMLLines.Line] = []
    try TOMLLines.read(text) { out.append($0) }
    return out
}

private func problem(_ text: String) -> TOMLLines.Problem? {
    do { _ = try lines(text); return nil } catch { return error as? TOMLLines.Problem }
}

@Suite struct TOMLLinesTests {
    @Test func entriesAndTablesInFileOrderWithLineNumbers() throws {
        let read = try lines("\u{FEFF}# head\r\na = 1  # note\r\n\n  [[relay]]  \nid = \"x # not a comment\"\r\nb=[1, 2]")
        #expect(read == [
            .entry(lineNumber: 2, key: "a", rawValue: "1"),
            .table(lineNumber: 4, header: "[[relay]]"),
            .entry(lineNumber: 5, key: "id", rawValue: "\"x # not a comment\""),
            .entry(lineNumber: 6, key: "b", rawValue: "[1, 2]"),
        ])
    }

    @Test func blankAndCommentOnlyTextHasNoLines() throws {
        #expect(try lines("").isEmpty)
        #expect(try lines("\u{FEFF}").isEmpty)
        #expect(try lines("# a\n\n   \n\t# b\r\n").isEmpty)
    }

    @Test func aLineWithoutEqualsIsRefusedEscaped() {
        let p = problem("a = 1\njust \u{1B}[2J words")
        #expect(p?.lineNumber == 2)
        #expect(p?.message == "expected key = value, got \"just \\u{1b}[2J words\"")
    }

    @Test func aDuplicateKeyInOneTableIsRefusedButNotAcrossTables() throws {
        let top = problem("port = 1\nx = 2\nport = 3")
        #expect(top?.lineNumber == 3)
        #expect(top?.message == "duplicate key \"port\" (first set on line 1)")
        let inTable = problem("[[relay]]\nid = 1\nid = 2")
        #expect(inTable?.message == "duplicate key \"id\" in this [[relay]] table (first set on line 2)")
        #expect(try lines("id = 0\n[[relay]]\nid = 1\n[[relay]]\nid = 2").count == 5)
    }

    /// The first mistake in the file is the one reported, whether the reader or the caller finds it.
    @Test func theCallersErrorOnAnEarlierLineComesFirst() {
        struct Refused: Error {}
        #expect(throws: Refused.self) {
            try TOMLLines.read("bad = 1\nno equals here") { if case .entry(_, "bad", _) = $0 { throw Refused() } }
        }
    }

    @Test func shownTextIsShortAndEscaped() {
        #expect(TOMLLines.shown("a\u{7F}b") == "\"a\\u{7f}b\"")
        #expect(TOMLLines.shown(String(repeating: "x", count: 61)) == "\"" + String(repeating: "x", count: 60) + "...\"")
    }
}
