import MeshLocalAPI
import Testing

@Suite struct LocalAPIRequestTests {
    @Test func everyRequestSurvivesItsLine() throws {
        let all: [LocalAPIRequest] = [.status, .version, .metrics, .netcheck, .down, .up, .logout,
                                      .ping(peer: "b", timeoutMilliseconds: 2000)]
        for r in all { #expect(try LocalAPIRequest(line: r.line) == r) }
    }

    @Test func onlyDownUpAndLogoutChangeState() {
        #expect(LocalAPIRequest.down.changesState && LocalAPIRequest.up.changesState && LocalAPIRequest.logout.changesState)
        #expect(!LocalAPIRequest.status.changesState && !LocalAPIRequest.ping(peer: "b", timeoutMilliseconds: 100).changesState)
    }

    @Test func refusalsAreOneSentence() {
        #expect(throws: LocalAPIRequestError("unknown command 'frob'; known: status, version, metrics, netcheck, ping, down, up, logout")) {
            try LocalAPIRequest(line: "frob")
        }
        #expect(throws: LocalAPIRequestError("empty request")) { try LocalAPIRequest(line: "  ") }
        #expect(throws: LocalAPIRequestError("'status' takes no arguments")) { try LocalAPIRequest(line: "status now") }
        #expect(throws: LocalAPIRequestError("usage: ping PEER TIMEOUT_MS")) { try LocalAPIRequest(line: "ping b") }
    }

    @Test func pingTimeoutsAndPeersAreBounded() {
        #expect(throws: LocalAPIRequestError.self) { try LocalAPIRequest(line: "ping b 99") }
        #expect(throws: LocalAPIRequestError.self) { try LocalAPIRequest(line: "ping b 30001") }
        #expect(throws: LocalAPIRequestError.self) { try LocalAPIRequest(line: "ping b 99999999999999999999999") }
        #expect(throws: LocalAPIRequestError.self) { try LocalAPIRequest(line: "ping b -5") }
        #expect(throws: LocalAPIRequestError.self) {
            try LocalAPIRequest(line: "ping \(String(repeating: "x", count: 257)) 1000")
        }
        #expect((try? LocalAPIRequest(line: "ping  b   100")) == .ping(peer: "b", timeoutMilliseconds: 100))
    }
}
