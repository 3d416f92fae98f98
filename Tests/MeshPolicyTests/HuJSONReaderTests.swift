import MeshPolicy
import Testing

@Suite struct HuJSONReaderTests {
    let reader = HuJSONReader()

    @Test func commentsAndTrailingCommasAreAccepted() throws {
        let text = """
        // a policy
        {
          /* block
             comment */ "a": [1, 2, 3,], // after
          "b": {"c": "d",},
        }
        """
        let v = try reader.parse(text)
        let members = try #require(v.objectValue)
        #expect(members.map(\.key) == ["a", "b"])
        #expect(members[0].value.arrayValue?.count == 3)
        #expect(members[0].value.arrayValue?[2].integerValue(maximum: 10) == 3)
        #expect(members[1].value.objectValue?.first?.value.stringValue == "d")
    }

    @Test func everyValueRecordsItsLineAndColumn() throws {
        let text = "{\n  \"key\": [true,\n    \"é\", null]\n}"
        let v = try reader.parse(text)
        #expect(v.position == SourcePosition(line: 1, column: 1))
        let member = try #require(v.objectValue?.first)
        #expect(member.keyPosition == SourcePosition(line: 2, column: 3))
        #expect(member.value.position == SourcePosition(line: 2, column: 10))
        let elements = try #require(member.value.arrayValue)
        #expect(elements[0].position == SourcePosition(line: 2, column: 11))
        #expect(elements[1].position == SourcePosition(line: 3, column: 5))
        // Columns count characters, not bytes: "é" is two bytes, one column.
        #expect(elements[2].position == SourcePosition(line: 3, column: 10))
    }

    @Test func stringEscapesAndUnicode() throws {
        let v = try reader.parse(#"["a\"b\\c\/\n\t", "\u00e9\ud83d\ude00"]"#)
        let a = try #require(v.arrayValue)
        #expect(a[0].stringValue == "a\"b\\c/\n\t")
        #expect(a[1].stringValue == "é😀")
    }

    @Test func errorsNameLineAndColumn() {
        func failure(_ text: String) -> PolicyError? {
            do { _ = try reader.parse(text); return nil } catch { return error }
        }
        #expect(failure("{\n  \"a\": 1\n  \"b\": 2\n}")?.position == SourcePosition(line: 3, column: 3))
        #expect(failure("{\"a\": tru}")?.position == SourcePosition(line: 1, column: 7))
        #expect(failure("[1, 2") != nil)
        #expect(failure("/* never closed")?.position == SourcePosition(line: 1, column: 1))
        #expect(failure("{\"a\": 1, \"a\": 2}")?.reason.contains("duplicate key") == true)
        #expect(failure("{\"a\": 1, \"a\": 2}")?.position == SourcePosition(line: 1, column: 10))
        #expect(failure("[01]")?.reason.contains("leading zeros") == true)
        #expect(failure("[\"a\nb\"]")?.reason.contains("control characters") == true)
        #expect(failure("[\"\\x\"]")?.reason.contains("unknown escape") == true)
        #expect(failure("[\"\\ud800\"]") != nil)
        #expect(failure("1 2")?.position == SourcePosition(line: 1, column: 3))
        #expect(failure("[1,,2]") != nil)
        #expect(failure(",") != nil)
        #expect(failure("") != nil)
        #expect(failure("/ x") != nil)
    }

    @Test func depthBoundIsEnforcedWithoutRecursingFurther() {
        let limits = HuJSONReader.Limits(maxDepth: 8)
        let ok = String(repeating: "[", count: 8) + String(repeating: "]", count: 8)
        let tooDeep = String(repeating: "[", count: 9) + String(repeating: "]", count: 9)
        #expect((try? HuJSONReader(limits: limits).parse(ok)) != nil)
        do {
            _ = try HuJSONReader(limits: limits).parse(tooDeep)
            Issue.record("nesting of 9 accepted")
        } catch {
            #expect(error.position == SourcePosition(line: 1, column: 9))
            #expect(error.reason.contains("deeper than the 8"))
        }
        // A huge nesting from a file is an error, not a stack overflow.
        let hostile = String(repeating: "[", count: 200_000)
        #expect((try? HuJSONReader().parse(hostile)) == nil)
    }

    @Test func sizeAndStringBoundsAreEnforced() {
        let small = HuJSONReader(limits: .init(maxBytes: 16, maxDepth: 8, maxStringBytes: 4))
        #expect((try? small.parse("[\"abcd\"]")) != nil)
        #expect((try? small.parse("[\"abcde\"]")) == nil)
        #expect((try? small.parse("[" + String(repeating: "1,", count: 10) + "1]")) == nil)
    }

    @Test func integersConvertWithBoundsNeverTrapping() throws {
        let v = try reader.parse("[255, 256, 99999999999999999999999999, -1, 1.5, 1e3]")
        let a = try #require(v.arrayValue)
        #expect(a[0].integerValue(maximum: 255) == 255)
        #expect(a[1].integerValue(maximum: 255) == nil)
        #expect(a[2].integerValue(maximum: .max) == nil)
        #expect(a[3].integerValue(maximum: 255) == nil)
        #expect(a[4].integerValue(maximum: 255) == nil)
        #expect(a[5].integerValue(maximum: 5000) == nil)
    }

    @Test func byteOrderMarkIsSkipped() throws {
        let v = try reader.parse(bytes: [0xEF, 0xBB, 0xBF] + Array("{}".utf8))
        #expect(v.objectValue?.isEmpty == true)
    }
}
