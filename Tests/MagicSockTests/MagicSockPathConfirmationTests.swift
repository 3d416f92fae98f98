import Disco
import MagicSock
import MeshCrypto
import MeshIO
import Testing
import WireGuard

/// With a manual clock and seeded randomness, the exact instants at which a direct path is
/// confirmed, becomes unconfirmed (data goes both ways) and is given up (relay alone), checked
/// against the promises in `PathTimings` rather than against numbers the test made up.
@Suite struct MagicSockPathConfirmationTests {
    /// How often the timers run: `MagicSock.tick` asks to be called every 100–250 ms.
    static let tick = Duration.milliseconds(100)
    /// The clock's smallest step, backwards: the last instant before a deadline.
    static let justBefore = Duration.nanoseconds(-1)

    /// Steps with traffic while a whole step (ticks plus the network's 1 ms hops) fits before
    /// `target`, recording every decision, then sets the clock to `target` exactly.
    static func run(_ net: TwoNodes, until target: MonotonicTime, decisions: inout [Steering]) throws {
        while net.now + tick + .milliseconds(50) <= target { decisions.append(Steering(net.step(tick))) }
        try #require(net.now <= target, "the clock overshot \(target): \(net.now)")
        net.now = target
    }

    /// Disco Pings A sent to `to` at or after `since`, oldest first, with when they left.
    static func pings(from net: TwoNodes, to: UDPAddress, since: MonotonicTime) -> [MonotonicTime] {
        net.queue.sent.compactMap { p in
            guard p.from == net.addrA, p.to == to, p.sentAt >= since,
                  case .ping = net.message(in: p) else { return nil }
            return p.sentAt
        }
    }

    @Test func confirmedUnconfirmedAndRelayAtTheirExactInstants() throws {
        let net = try TwoNodes(seed: 3)
        let timings = net.timings
        let direct = net.addrB
        let tick = Self.tick

        // Before any Pong there is no direct path at all: the first packets go by the relay alone.
        #expect(Steering(net.steerAtA()) == .relay)
        var status = try #require(net.a.pathStatus().first)
        #expect(status.direct == nil && status.latency == nil && !status.trusted && status.relay)
        #expect(status.description == "relay")

        // Discovery pings B's endpoint at once; while the Ping is in flight nothing changes.
        let discoveredAt = net.now
        net.a.tick(now: net.now)
        #expect(Self.pings(from: net, to: direct, since: discoveredAt) == [discoveredAt])
        #expect(Steering(net.steerAtA()) == .relay)
        #expect(net.a.pathStatus().first?.direct == nil)

        // The Pong (2 ms later: 1 ms a hop) confirms the path: direct alone, trusted.
        net.deliverAll()
        #expect(net.now == discoveredAt + .milliseconds(2) + .milliseconds(1))  // a third hop: A's Pong to B's Ping back
        #expect(Steering(net.steerAtA()) == .direct(direct))
        status = try #require(net.a.pathStatus().first)
        #expect(status.direct == direct && status.latency == .milliseconds(2) && status.trusted && !status.relay)
        #expect(status.description == "direct \(direct)")

        // Ten seconds of traffic both ways: every packet goes direct, and only direct.
        var decisions: [Steering] = []
        try Self.run(net, until: net.now + .seconds(10), decisions: &decisions)
        #expect(decisions.allSatisfy { $0 == .direct(direct) }, "\(Set(decisions.map(\.description)))")

        // A firewall rule now drops the direct path both ways. A's next Ping to it (the
        // heartbeat, or the probe when answers stop) is due within a heartbeat of the last one,
        // which was answered before the cut.
        net.udpWorks = false
        let cut = net.now
        decisions = []
        while Self.pings(from: net, to: direct, since: cut).isEmpty, net.now - cut <= timings.heartbeatInterval + tick {
            decisions.append(Steering(net.step(tick)))
        }
        let unanswered = try #require(Self.pings(from: net, to: direct, since: cut).first)
        #expect(unanswered - cut <= timings.heartbeatInterval + tick)

        // Until that Ping is `pongOverdue` old the path counts as confirmed; from that very
        // instant it is unconfirmed and data goes both ways.
        let overdueAt = unanswered + timings.pongOverdue
        try Self.run(net, until: overdueAt + Self.justBefore, decisions: &decisions)
        #expect(decisions.allSatisfy { $0 == .direct(direct) }, "\(Set(decisions.map(\.description)))")
        #expect(Steering(net.steerAtA()) == .direct(direct))
        status = try #require(net.a.pathStatus().first)
        #expect(status.direct == direct && status.trusted && !status.relay)
        net.now = overdueAt
        #expect(Steering(net.steerAtA()) == .both(direct))
        status = try #require(net.a.pathStatus().first)
        #expect(status.direct == direct && !status.trusted && status.relay)
        #expect(status.description == "direct \(direct) (unconfirmed, also relay)")
        // The promise (README: "within about 4 s"; PathTimings.pongOverdue: "a dead path costs
        // at most heartbeat + this"), at the granularity of the timers.
        #expect(overdueAt - cut <= timings.heartbeatInterval + timings.pongOverdue + tick,
                "traffic reached the relay \(overdueAt - cut) after the cut")

        // Both ways until the Ping has gone unanswered a whole ping timeout; at that instant the
        // path is given up and the relay alone carries the data.
        let deadAt = unanswered + timings.pingTimeout
        decisions = []
        try Self.run(net, until: deadAt + Self.justBefore, decisions: &decisions)
        #expect(decisions.allSatisfy { $0 == .both(direct) }, "\(Set(decisions.map(\.description)))")
        net.a.tick(now: net.now)
        #expect(Steering(net.steerAtA()) == .both(direct))
        net.now = deadAt
        net.a.tick(now: net.now)
        #expect(Steering(net.steerAtA()) == .relay)
        status = try #require(net.a.pathStatus().first)
        #expect(status.direct == nil && status.latency == nil && !status.trusted && status.relay)
        #expect(status.description == "relay")
        #expect(deadAt - cut <= timings.heartbeatInterval + timings.pingTimeout + tick)

        // The path returns: the next discovery round (at most `discoveryInterval` after the
        // last) pings it, and the packet after the Pong goes direct alone again.
        net.udpWorks = true
        let restored = net.now
        decisions = []
        var directAgain: MonotonicTime?
        while net.now - restored <= timings.discoveryInterval + tick * 2 {
            let at = net.now
            let d = Steering(net.step(tick))
            if d == .direct(direct) { directAgain = at; break }
            decisions.append(d)
        }
        let back = try #require(directAgain, "still \(decisions.last.map(\.description) ?? "-")") - restored
        #expect(back <= timings.discoveryInterval + tick * 2, "direct again after \(back)")
        #expect(decisions.allSatisfy { $0 == .relay }, "\(Set(decisions.map(\.description)))")
        status = try #require(net.a.pathStatus().first)
        #expect(status.direct == direct && status.latency == .milliseconds(2) && status.trusted && !status.relay)
    }
}
