import Disco
import MagicSock
import MeshCrypto
import MeshIO
import Synchronization
import Testing
import WireGuard

/// `meshctl ping` through the path layer: with no confirmed path the Pings go to the peer's
/// published endpoint and through the relay, and the first Pong answers; with a direct path
/// only that path is pinged.
@Suite struct MagicSockOnDemandPingTests {
    final class Answers: Sendable {
        let list = Mutex<[OnDemandPings.Answer]>([])
        var all: [OnDemandPings.Answer] { list.withLock { $0 } }
    }

    @Test func withoutADirectPathTheRelayedPongAnswersWhenUDPIsBlocked() throws {
        let net = try TwoNodes()
        net.udpWorks = false
        let answers = Answers()
        let started = net.a.pingNow(peer: net.b.nodeKey, now: net.now) { a in answers.list.withLock { $0.append(a) } }
        #expect(started == .started(request: 1, direct: [net.addrB], relay: true))
        net.deliverAll()
        #expect(answers.all.count == 1)
        #expect(answers.all.first?.via == nil)
        #expect(answers.all.first?.latency == .milliseconds(2))
    }

    @Test func theDirectPongWinsWhenUDPWorks() throws {
        let net = try TwoNodes()
        let answers = Answers()
        _ = net.a.pingNow(peer: net.b.nodeKey, now: net.now) { a in answers.list.withLock { $0.append(a) } }
        net.deliverAll()
        // Direct and relayed Pongs arrive in the same hop here; the first handled wins, once.
        #expect(answers.all.count == 1)
    }

    @Test func aConfirmedPathIsPingedAlone() throws {
        let net = try TwoNodes()
        for _ in 0..<30 { net.step(.milliseconds(100)) }
        try #require(net.a.pathStatus().first?.trusted == true)
        let answers = Answers()
        let started = net.a.pingNow(peer: net.b.nodeKey, now: net.now) { a in answers.list.withLock { $0.append(a) } }
        #expect(started == .started(request: 1, direct: [net.addrB], relay: false))
        net.deliverAll()
        #expect(answers.all.map(\.via) == [net.addrB])
    }

    @Test func unknownPeersAndCancelledRequests() throws {
        let net = try TwoNodes()
        var e = SeededEntropy(seed: 77)
        let stranger = PrivateKey.generate(using: &e).publicKey
        #expect(net.a.pingNow(peer: stranger, now: net.now) { _ in } == .unknownPeer)
        let answers = Answers()
        guard case .started(let request, _, _) = net.a.pingNow(peer: net.b.nodeKey, now: net.now, answered: { a in
            answers.list.withLock { $0.append(a) }
        }) else { Issue.record("not started"); return }
        net.a.cancelPing(request)
        net.deliverAll()
        #expect(answers.all.isEmpty)
    }
}
