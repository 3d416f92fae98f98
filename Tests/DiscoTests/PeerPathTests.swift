import Disco
import MeshCrypto
import Testing
import MeshBase

@Suite struct PeerPathTests {
    let lan = UDPAddress(ipv4: 10, 1, 0, 10, port: 41641)
    let wan = UDPAddress(ipv4: 203, 0, 113, 11, port: 41641)
    let t0 = MonotonicTime(nanoseconds: 1_000_000_000)

    func pings(_ actions: [PeerPath.Action]) -> [(UDPAddress, DiscoTransactionID)] {
        actions.compactMap { if case .ping(let a, let t) = $0 { return (a, t) } else { return nil } }
    }

    @Test func firstPacketGoesViaRelayWhileDiscoveryStarts() {
        var e = SeededEntropy(seed: 1)
        var path = PeerPath()
        path.setCandidates([wan])
        #expect(path.route(now: t0) == .init(direct: nil, relay: true))
        let actions = path.poll(now: t0, entropy: &e)
        #expect(pings(actions).map(\.0) == [wan])
        #expect(actions.contains(.callMeMaybe))
    }

    @Test func firstPongMakesDirectPathAndTrustExpires() {
        var e = SeededEntropy(seed: 1)
        var path = PeerPath()
        path.setCandidates([wan])
        _ = path.route(now: t0)
        let (addr, txid) = pings(path.poll(now: t0, entropy: &e))[0]
        let accepted = path.handlePong(txid: txid, from: addr, now: t0 + .milliseconds(20))
        #expect(accepted)
        #expect(path.route(now: t0 + .seconds(1)) == .init(direct: wan, relay: false))
        #expect(path.bestLatency == .milliseconds(20))
        // The 3 s heartbeat goes unanswered: after 6.5 s data goes both ways until confirmed or abandoned.
        _ = path.route(now: t0 + .seconds(3.1))
        #expect(!pings(path.poll(now: t0 + .seconds(3.1), entropy: &e)).isEmpty)
        #expect(path.route(now: t0 + .seconds(7)) == .init(direct: wan, relay: true))
        // Its heartbeat goes unanswered for a whole ping timeout: the path is dead, relay only.
        _ = path.poll(now: t0 + .seconds(7), entropy: &e)
        _ = path.poll(now: t0 + .seconds(12.5), entropy: &e)
        #expect(path.route(now: t0 + .seconds(12.5)) == .init(direct: nil, relay: true))
    }

    @Test func pongFromWrongAddressOrUnknownTxidIsIgnored() {
        var e = SeededEntropy(seed: 1)
        var path = PeerPath()
        path.setCandidates([wan])
        _ = path.route(now: t0)
        let (_, txid) = pings(path.poll(now: t0, entropy: &e))[0]
        let fromWrongAddress = path.handlePong(txid: txid, from: lan, now: t0)
        let unknownTxid = path.handlePong(txid: DiscoTransactionID(using: &e), from: wan, now: t0)
        #expect(!fromWrongAddress && !unknownTxid)
        #expect(path.best == nil)
    }

    @Test func heartbeatEveryThreeSecondsWhileActive() {
        var e = SeededEntropy(seed: 1)
        var path = PeerPath()
        path.setCandidates([lan])
        _ = path.route(now: t0)
        var now = t0
        let (a, t) = pings(path.poll(now: now, entropy: &e))[0]
        path.handlePong(txid: t, from: a, now: now + .milliseconds(1))
        var heartbeats = 0
        for _ in 0..<100 {  // 10 s in 100 ms steps, data flowing both ways all along
            now = now + .milliseconds(100)
            _ = path.route(now: now)
            path.noteReceived(now: now)
            for (addr, txid) in pings(path.poll(now: now, entropy: &e)) {
                heartbeats += 1
                path.handlePong(txid: txid, from: addr, now: now)
            }
        }
        #expect(heartbeats == 3)
        #expect(path.isTrusted(now: now))
    }

    @Test func sendingIntoSilenceProbesThePathEarly() {
        var e = SeededEntropy(seed: 1)
        var path = PeerPath()
        path.setCandidates([wan])
        _ = path.route(now: t0)
        let (a, t) = pings(path.poll(now: t0, entropy: &e))[0]
        path.handlePong(txid: t, from: a, now: t0)
        path.noteReceived(now: t0)
        // Data keeps going out, nothing comes back (say the peer's NAT lost its mapping).
        var now = t0, probedAt: MonotonicTime?
        for _ in 0..<30 {
            now = now + .milliseconds(100)
            _ = path.route(now: now)
            if !pings(path.poll(now: now, entropy: &e)).isEmpty { probedAt = now; break }
        }
        let probed = try! #require(probedAt) - t0
        #expect(probed <= .milliseconds(1100), "probed after \(probed), not waiting for the 3 s heartbeat")
        // Unanswered, the path loses trust a pong-overdue later: data goes by the relay too.
        #expect(path.route(now: now + .milliseconds(1000)).relay)
    }

    @Test func idleKeepaliveAtMost25Seconds() {
        var e = SeededEntropy(seed: 1)
        var path = PeerPath()
        path.setCandidates([wan])
        _ = path.route(now: t0)
        let (a, t) = pings(path.poll(now: t0, entropy: &e))[0]
        path.handlePong(txid: t, from: a, now: t0)
        var now = t0
        var times: [Double] = []
        for _ in 0..<1800 {  // 180 s, no data after the start
            now = now + .milliseconds(100)
            for (addr, txid) in pings(path.poll(now: now, entropy: &e)) {
                times.append(Double((now - t0).nanoseconds) / 1e9)
                path.handlePong(txid: txid, from: addr, now: now)
            }
        }
        let idle = times.filter { $0 > 45 }
        #expect(!idle.isEmpty)
        for (x, y) in zip(idle, idle.dropFirst()) { #expect(y - x <= 25.01) }
        // After three idle minutes the first packet goes direct at once, not through the relay.
        #expect(path.route(now: now) == .init(direct: wan, relay: false))
    }

    /// The packet that ends a quiet spell can cross the idle keepalive's Ping in flight: it still
    /// goes direct only; the path loses trust when that Ping is overdue, not before.
    @Test func aKeepaliveInFlightKeepsAnIdlePathTrusted() {
        var e = SeededEntropy(seed: 1)
        var path = PeerPath()
        path.setCandidates([wan])
        _ = path.route(now: t0)
        let (a, t) = pings(path.poll(now: t0, entropy: &e))[0]
        path.handlePong(txid: t, from: a, now: t0)
        var now = t0, inFlight: [(UDPAddress, DiscoTransactionID)] = []
        while inFlight.isEmpty, now - t0 < .seconds(60) {
            now = now + .milliseconds(100)
            inFlight = pings(path.poll(now: now, entropy: &e))
            if now - t0 < .seconds(20) { for (addr, txid) in inFlight { path.handlePong(txid: txid, from: addr, now: now) }; inFlight = [] }
        }
        #expect(inFlight.count == 1, "an idle keepalive Ping went out")
        let sentAt = now
        #expect(now - t0 > PathTimings().trustDuration)
        #expect(path.isTrusted(now: now + .milliseconds(10)), "a Ping in flight does not cost the trust")
        #expect(!path.isTrusted(now: sentAt + PathTimings().pongOverdue), "an overdue one does")
    }

    @Test func lanAddressBeatsPublicOne() {
        var e = SeededEntropy(seed: 1)
        var path = PeerPath()
        path.setCandidates([wan, lan])
        _ = path.route(now: t0)
        let sent = pings(path.poll(now: t0, entropy: &e))
        for (addr, txid) in sent where addr == wan { path.handlePong(txid: txid, from: addr, now: t0 + .microseconds(300)) }
        for (addr, txid) in sent where addr == lan { path.handlePong(txid: txid, from: addr, now: t0 + .microseconds(400)) }
        #expect(path.best == lan)
    }

    @Test func callMeMaybePingsEveryEndpointNow() {
        var e = SeededEntropy(seed: 1)
        var path = PeerPath()
        let actions = path.handleCallMeMaybe([wan, lan], now: t0, entropy: &e)
        #expect(Set(pings(actions).map(\.0)) == [wan, lan])
        #expect(Set(path.candidates) == [wan, lan])
    }

    @Test func pingFromPeerAddsReflexiveCandidateAndPingsBack() {
        var e = SeededEntropy(seed: 1)
        var path = PeerPath()
        let reflexive = UDPAddress(ipv4: 198, 51, 100, 20, port: 12345)
        let actions = path.handlePing(from: reflexive, now: t0, entropy: &e)
        #expect(pings(actions).map(\.0) == [reflexive])
        #expect(path.candidates.contains(reflexive))
        let again = path.handlePing(from: reflexive, now: t0 + .milliseconds(10), entropy: &e)
        #expect(again.isEmpty)
    }

    @Test func looksForBetterPathEvery60sUnlessFast() {
        var e = SeededEntropy(seed: 1)
        var path = PeerPath()
        path.setCandidates([wan])
        _ = path.route(now: t0)
        let (a, t) = pings(path.poll(now: t0, entropy: &e))[0]
        path.handlePong(txid: t, from: a, now: t0 + .milliseconds(30))  // slow path: 30 ms
        var now = t0, discoveries = 0
        for _ in 0..<1300 {  // 130 s of traffic
            now = now + .milliseconds(100)
            _ = path.route(now: now)
            let actions = path.poll(now: now, entropy: &e)
            if actions.contains(.callMeMaybe) { discoveries += 1 }
            for (addr, txid) in pings(actions) { path.handlePong(txid: txid, from: addr, now: now + .milliseconds(30)) }
        }
        #expect(discoveries == 2)
    }
}
