import Relay
import Testing

@Suite struct HomeRelayChoiceTests {
    let order = ["default", "fra", "nyc"]

    @Test func noConnectedRelayMeansNoHome() {
        #expect(HomeRelayChoice.choose(order: order, connected: [], latencyMillis: ["fra": 5], current: "fra") == nil)
    }

    @Test func withoutLatencyTheFirstConnectedInOrderWins() {
        #expect(HomeRelayChoice.choose(order: order, connected: ["nyc", "fra"], latencyMillis: [:], current: nil) == "fra")
    }

    @Test func withoutLatencyTheOrderWinsOverTheCurrentHome() {
        // fra became home while default was down; default is back and nothing was measured.
        #expect(HomeRelayChoice.choose(order: order, connected: ["default", "fra"], latencyMillis: [:], current: "fra") == "default")
    }

    @Test func lowestLatencyWinsAtFirstChoice() {
        let l = ["default": 40, "fra": 12, "nyc": 90]
        #expect(HomeRelayChoice.choose(order: order, connected: Set(order), latencyMillis: l, current: nil) == "fra")
    }

    @Test func currentHomeStaysUnlessClearlySlower() {
        // 30 vs 40: a 25 % gain, below the 33 % needed to move.
        #expect(HomeRelayChoice.choose(order: order, connected: Set(order), latencyMillis: ["default": 40, "fra": 30],
                                       current: "default") == "default")
        // 20 vs 40: a 50 % gain moves the home.
        #expect(HomeRelayChoice.choose(order: order, connected: Set(order), latencyMillis: ["default": 40, "fra": 20],
                                       current: "default") == "fra")
        // The current home did not answer STUN this round: no evidence it got worse.
        #expect(HomeRelayChoice.choose(order: order, connected: Set(order), latencyMillis: ["fra": 1],
                                       current: "default") == "default")
    }

    @Test func aDisconnectedHomeIsReplaced() {
        #expect(HomeRelayChoice.choose(order: order, connected: ["nyc"], latencyMillis: ["default": 1],
                                       current: "default") == "nyc")
    }

    @Test func hugeLatenciesDoNotTrap() {
        #expect(HomeRelayChoice.choose(order: order, connected: Set(order), latencyMillis: ["default": .max, "fra": .max - 1],
                                       current: "default") == "default")
        #expect(HomeRelayChoice.choose(order: order, connected: Set(order), latencyMillis: ["default": .max, "fra": 0],
                                       current: "default") == "fra")
    }

    @Test func routePrefersThePeersHomeThenOursThenAnyConnected() {
        let all: Set<String> = ["default", "fra", "nyc"]
        #expect(HomeRelayChoice.route(peerHome: "nyc", home: "fra", order: order, isConnected: Set<String>(all).contains) == "nyc")
        #expect(HomeRelayChoice.route(peerHome: "nyc", home: "fra", order: order, isConnected: Set<String>(["default", "fra"]).contains) == "fra")
        #expect(HomeRelayChoice.route(peerHome: "gone", home: nil, order: order, isConnected: Set<String>(["nyc"]).contains) == "nyc")
        #expect(HomeRelayChoice.route(peerHome: nil, home: "fra", order: order, isConnected: Set<String>([]).contains) == nil)
    }
}
