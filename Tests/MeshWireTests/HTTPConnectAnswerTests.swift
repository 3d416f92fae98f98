import MeshWire
import Testing

@Suite struct HTTPConnectAnswerTests {
    func parse(_ s: String) -> HTTPConnectAnswer { HTTPConnectAnswer.parse(Array(s.utf8)) }

    @Test func statusLines() {
        #expect(parse("HTTP/1.1 200 Connection established\r\n\r\n") == .established(headerLength: 39))
        #expect(parse("HTTP/1.0 200 OK\r\nProxy-Agent: tinyproxy\r\n\r\nTLS...") == .established(headerLength: 43))
        #expect(parse("HTTP/1.1 407 Proxy Authentication Required\r\nX: y\r\n\r\n")
            == .refused(statusLine: "HTTP/1.1 407 Proxy Authentication Required"))
        #expect(parse("HTTP/1.1 403 Forbidden\r\n\r\n") == .refused(statusLine: "HTTP/1.1 403 Forbidden"))
        #expect(parse("") == .incomplete)
        #expect(parse("HTT") == .incomplete)
        #expect(parse("HTTP/1.1 200 Connection est") == .incomplete)
        #expect(parse("SSH-2.0-OpenSSH\r\n\r\n") == .malformed)
        #expect(parse("\u{16}\u{03}\u{01}") == .malformed)
        #expect(parse("HTTP/1.1 9x9 What\r\n\r\n") == .malformed)
        #expect(parse("HTTP/1.1 099 Low\r\n\r\n") == .malformed)
    }

    @Test func headIsBoundedAndStatusLineSanitised() {
        let long = "HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: HTTPConnectAnswer.maxHeadLength) + "\r\n\r\n"
        #expect(parse(long) == .malformed)
        let endless = "HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: HTTPConnectAnswer.maxHeadLength + 10)
        #expect(parse(endless) == .malformed)
        let odd = HTTPConnectAnswer.parse(Array("HTTP/1.1 502 Bad\u{1b}[31m\r\n\r\n".utf8))
        #expect(odd == .refused(statusLine: "HTTP/1.1 502 Bad?[31m"))
        let huge = "HTTP/1.1 502 " + String(repeating: "b", count: 500) + "\r\n\r\n"
        guard case .refused(let line) = parse(huge) else { Issue.record("expected a refusal"); return }
        #expect(line.count == 200)
    }
}
