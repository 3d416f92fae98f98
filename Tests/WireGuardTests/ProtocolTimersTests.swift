import Testing
import WireGuard

@Suite struct ProtocolTimersTests {
    @Test func standardTimersGiveTheWhitepapersEighteenAttempts() {
        #expect(ProtocolTimers.standard.maxHandshakeAttempts == 18)
    }

    @Test func degenerateTimersDoNotTrap() {
        var t = ProtocolTimers()
        t.rekeyTimeout = .zero
        #expect(t.maxHandshakeAttempts == 1)
        t.rekeyTimeout = .seconds(-5)
        #expect(t.maxHandshakeAttempts == 1)
    }
}
