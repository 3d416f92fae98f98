import Logging
import MeshEngine
import MeshIO
import MeshWire
import Testing

@Suite struct NetmapPacketFilterTests {
    static let good = PacketFilterMessage(enforced: true, rules: [
        .init(sources: ["100.64.0.2/32"], destinations: ["100.64.0.1"], protocols: [6], ports: [.init(first: 22, last: 22)]),
    ], policyVersion: 1)
    static let broken = PacketFilterMessage(enforced: true, rules: [
        .init(sources: ["100.64.0.2/40"], destinations: ["100.64.0.1"], protocols: [6], ports: []),
    ], policyVersion: 2)

    @Test func installsKeepsThePreviousOnAMalformedOneAndTurnsOff() {
        let filter = DataPlaneFilter()
        let follower = NetmapPacketFilter(filter: filter, logger: Logger(label: "test"))
        #expect(follower.follow(nil))
        #expect(!filter.isEnforcing)
        #expect(follower.follow(Self.good))
        #expect(filter.isEnforcing && filter.snapshot?.rules == 1)
        // Refused whole: the previous rules stay in force.
        #expect(!follower.follow(Self.broken))
        #expect(!follower.follow(Self.broken))
        #expect(filter.isEnforcing && filter.snapshot?.rules == 1)
        #expect(follower.follow(PacketFilterMessage(enforced: true, rules: [], policyVersion: 3)))
        #expect(filter.snapshot?.rules == 0)
        #expect(follower.follow(.allowAll))
        #expect(!filter.isEnforcing && filter.snapshot == nil)
    }

    /// A node that allows everything (no policy yet, or the policy was removed) and then gets a
    /// filter it cannot convert must not stay open: the coordinator says a policy exists.
    @Test func aMalformedFilterWhileAllowingAllFailsClosedUntilAGoodOneOrNone() {
        let filter = DataPlaneFilter()
        let follower = NetmapPacketFilter(filter: filter, logger: Logger(label: "test"))
        #expect(!follower.follow(Self.broken))
        #expect(filter.isEnforcing && filter.snapshot?.rules == 0)
        #expect(!follower.follow(Self.broken))
        #expect(filter.isEnforcing && filter.snapshot?.rules == 0)
        #expect(follower.follow(Self.good))
        #expect(filter.snapshot?.rules == 1)
        // Policy removed, then a broken one again, then removed again: closed, then open.
        #expect(follower.follow(nil))
        #expect(!filter.isEnforcing)
        #expect(!follower.follow(Self.broken))
        #expect(filter.isEnforcing && filter.snapshot?.rules == 0)
        #expect(follower.follow(nil))
        #expect(!filter.isEnforcing && filter.snapshot == nil)
    }
}
