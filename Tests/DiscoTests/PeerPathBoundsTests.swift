import Disco
import MeshCrypto
import Testing
import MeshBase

/// What a peer can make the path state machine keep and ping: CallMeMaybe replaces, the
/// candidate cap, pruning of addresses that never answer, and the other bounds.
@Suite struct PeerPathBoundsTests {
    let wan = UDPAddress(ipv4: 203, 0, 113, 11, port: 41641)
    let lan = UDPAddress(ipv4: 10, 1, 0, 10, port: 41641)
    let t0 = MonotonicTime(nanoseconds: 1_000_000_000)

    func invented(_ n: Int, round: Int) -> [UDPAddress] {
        (0..<n).map { UDPAddress(ipv4: 198, 51, 100, UInt8(1 + $0 % 250), port: UInt16(20000 + round * 100 + $0)) }
    }

    func pinged(_ actions: [PeerPath.Action]) -> [UDPAddress] {
        actions.compactMap { if case .ping(let a, _) = $0 { return a } else { return nil } }
    }

    @Test func callMeMaybeReplacesTheEarlierOneAndKeepsPublishedEndpoints() {
        var e = SeededEntropy(seed: 1)
        var path = PeerPath()
        path.setCandidates([wan])
        let x = invented(2, round: 0), y = invented(1, round: 1)
        _ = path.handleCallMeMaybe(x, now: t0, entropy: &e)
        #expect(path.candidates == [wan] + x)
        _ = path.handleCallMeMaybe(y, now: t0 + .seconds(5), entropy: &e)
        #expect(path.candidates == [wan] + y)
        _ = path.handleCallMeMaybe([], now: t0 + .seconds(10), entropy: &e)
        #expect(path.candidates == [wan])
    }

    @Test func twentyFloodsOfSixtyFourKeepAtMostSixteenCandidates() {
        var e = SeededEntropy(seed: 2)
        var path = PeerPath()
        path.setCandidates([wan, lan])
        var now = t0
        for round in 0..<20 {
            let actions = path.handleCallMeMaybe(invented(64, round: round), now: now, entropy: &e)
            #expect(pinged(actions).count <= PeerPath.maxCandidates - 2)
            #expect(path.candidates.count <= PeerPath.maxCandidates)
            #expect(path.candidates.prefix(2) == [wan, lan])
            now = now + .milliseconds(50)
        }
        #expect(path.candidatesRefused == 20 * (64 - 14))
        // A discovery round pings the 16 kept, no more.
        _ = path.route(now: now + .seconds(6))
        let round = pinged(path.poll(now: now + .seconds(6), entropy: &e))
        #expect(Set(round).count <= PeerPath.maxCandidates && round.count <= PeerPath.maxCandidates)
        // Loopback and odd addresses are never taken from a CallMeMaybe.
        let odd = [UDPAddress(ipv4: 127, 0, 0, 1, port: 22), UDPAddress(ipv4: 224, 0, 0, 251, port: 5353),
                   UDPAddress(ipv4: 192, 0, 2, 1, port: 0)]
        #expect(pinged(path.handleCallMeMaybe(odd, now: now + .seconds(7), entropy: &e)).isEmpty)
        #expect(path.candidates == [wan, lan])
    }

    /// Runs an active session for `seconds` with nothing answering; returns the ping times per address.
    func silentSession(_ path: inout PeerPath, from start: MonotonicTime, seconds: Int,
                       entropy e: inout SeededEntropy) -> [UDPAddress: [MonotonicTime]] {
        var sent: [UDPAddress: [MonotonicTime]] = [:]
        var now = start
        for _ in 0..<(seconds * 10) {
            now = now + .milliseconds(100)
            _ = path.route(now: now)
            for a in pinged(path.poll(now: now, entropy: &e)) { sent[a, default: []].append(now) }
        }
        return sent
    }

    @Test func offeredAddressThatNeverAnswersIsPrunedAndStaysPruned() {
        var e = SeededEntropy(seed: 3)
        var path = PeerPath()
        let x = invented(1, round: 0)[0]
        #expect(pinged(path.handleCallMeMaybe([x], now: t0, entropy: &e)) == [x])
        let sent = silentSession(&path, from: t0, seconds: 60, entropy: &e)
        #expect((sent[x]?.count ?? 0) + 1 <= PathTimings.standard.missesBeforePrune)
        #expect(!path.candidates.contains(x))
        // Offered again, it is held: no ping for the prune hold.
        let later = t0 + .seconds(61)
        #expect(pinged(path.handleCallMeMaybe([x], now: later, entropy: &e)).isEmpty)
        let again = silentSession(&path, from: later, seconds: 30, entropy: &e)
        #expect(again[x] == nil)
    }

    @Test func publishedEndpointThatNeverAnswersIsBackedOff() {
        var e = SeededEntropy(seed: 4)
        var path = PeerPath()
        path.setCandidates([wan])
        let sent = silentSession(&path, from: t0, seconds: 180, entropy: &e)[wan] ?? []
        // Without backoff that is one ping per 5 s discovery round: 36.
        #expect(sent.count >= 3 && sent.count <= 10, "\(sent.count) pings")
        let lastMinute = sent.filter { $0 > t0 + .seconds(120) }
        #expect(lastMinute.count >= 1 && lastMinute.count <= 2)
        // The netmap publishing it anew (after it was dropped) starts afresh.
        path.setCandidates([])
        path.setCandidates([wan])
        _ = path.route(now: t0 + .seconds(190))
        #expect(pinged(path.poll(now: t0 + .seconds(190), entropy: &e)).contains(wan))
    }

    @Test func pingsFromManySourcesKeepFewReflexiveCandidatesAndFewPendingPings() {
        var e = SeededEntropy(seed: 5)
        var path = PeerPath()
        path.setCandidates([wan])
        var pingBacks = 0
        for i in 0..<1000 {
            let src = UDPAddress(ipv4: 198, 51, 100, UInt8(i % 250), port: UInt16(1000 + i))
            pingBacks += pinged(path.handlePing(from: src, now: t0, entropy: &e)).count
        }
        #expect(path.candidates.count <= 1 + PeerPath.maxReflexive)
        #expect(pingBacks <= PeerPath.maxPending)
        // Unpaid: no ping back at all.
        let src = UDPAddress(ipv4: 198, 51, 100, 7, port: 7)
        #expect(path.handlePing(from: src, now: t0 + .seconds(10), pingBack: false, entropy: &e).isEmpty)
    }

    @Test func answeredAddressesAreVouchedOthersNot() {
        var e = SeededEntropy(seed: 6)
        var path = PeerPath()
        path.setCandidates([wan])
        let x = invented(1, round: 0)[0]
        let actions = path.handleCallMeMaybe([x], now: t0, entropy: &e)
        #expect(path.isVouched(wan) && !path.isVouched(x))
        for case .ping(let a, let txid) in actions { path.handlePong(txid: txid, from: a, now: t0 + .milliseconds(3)) }
        #expect(path.isVouched(x))
        // Still a candidate after a newer CallMeMaybe replaced the list that brought it.
        _ = path.handleCallMeMaybe([], now: t0 + .seconds(5), entropy: &e)
        #expect(path.candidates.contains(x))
    }
}
