import MeshEngine
import Testing

@Suite struct DiscoDropSummaryTests {
    @Test func summarisesOnlyWhatGrew() {
        let line = DiscoDropSummary.line(current: ["unknownSender": 120, "rateLimited": 7, "badBox": 3],
                                         reported: ["unknownSender": 20, "badBox": 3])
        #expect(line == "dropped 107 datagrams in the last 30 s (rateLimited 7, unknownSender 100)")
    }

    @Test func nothingNewIsNoLine() {
        #expect(DiscoDropSummary.line(current: [:], reported: [:]) == nil)
        #expect(DiscoDropSummary.line(current: ["badBox": 3], reported: ["badBox": 3]) == nil)
        // A counter that went backwards (never in practice) is not reported as a huge number.
        #expect(DiscoDropSummary.line(current: ["badBox": 1], reported: ["badBox": 3]) == nil)
    }

    @Test func extremeCountersDoNotTrap() {
        let line = DiscoDropSummary.line(current: ["a": .max, "b": .max], reported: ["a": .min])
        #expect(line != nil)
    }
}
