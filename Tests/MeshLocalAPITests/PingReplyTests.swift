import MeshLocalAPI
import Testing

@Suite struct PingReplyTests {
    let direct = PingReply(peer: "b", key: "BBBBbbbb", ip: "100.64.0.2", answered: true, path: .direct,
                           endpoint: "203.0.113.12:41641", latencyMs: 0.43, timeoutMs: 2000)
    let relayed = PingReply(peer: "b", key: "BBBBbbbb", ip: "100.64.0.2", answered: true, path: .relay,
                            relay: "fra", latencyMs: 12, timeoutMs: 2000)
    let lost = PingReply(peer: "b", key: "BBBBbbbb", ip: "100.64.0.2", answered: false, timeoutMs: 2000)

    @Test func oneLinePerReply() {
        #expect(direct.line == "pong from b (100.64.0.2) via direct 203.0.113.12:41641 in 0.4 ms")
        #expect(relayed.line == "pong from b (100.64.0.2) via relay fra in 12.0 ms")
        #expect(lost.line == "no pong from b (100.64.0.2) within 2000 ms")
    }

    @Test func millisecondsNeverTrapAndNeverShowZeroForSomething() {
        #expect(PingReply.milliseconds(0.01) == "0.1")
        #expect(PingReply.milliseconds(0) == "0.0")
        #expect(PingReply.milliseconds(.infinity) == "?")
        #expect(PingReply.milliseconds(-1) == "?")
        #expect(PingReply.milliseconds(1e300) == "?")
        #expect(PingReply.milliseconds(1234.56) == "1234.6")
    }

    @Test func untilDirectStopsAtTheFirstDirectPong() {
        #expect(!PingSummary.shouldStop(after: [relayed], count: 10, untilDirect: true))
        #expect(PingSummary.shouldStop(after: [relayed, direct], count: 10, untilDirect: true))
        #expect(!PingSummary.shouldStop(after: [direct], count: 3, untilDirect: false))
        #expect(PingSummary.shouldStop(after: [direct, lost, direct], count: 3, untilDirect: false))
    }

    @Test func theSummaryDecidesTheExitStatus() {
        #expect(PingSummary(peer: "b", replies: [lost, relayed]).succeeded(untilDirect: false))
        #expect(!PingSummary(peer: "b", replies: [lost, relayed]).succeeded(untilDirect: true))
        #expect(!PingSummary(peer: "b", replies: [lost, lost]).succeeded(untilDirect: false))
        let s = PingSummary(peer: "b", replies: [lost, relayed, direct])
        #expect(s.sent == 3 && s.answered == 2 && s.direct)
    }
}
