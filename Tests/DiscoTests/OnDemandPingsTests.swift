import Disco
import MeshBase
import MeshCrypto
import Testing

@Suite struct OnDemandPingsTests {
    static let keys: [PublicKey] = {
        var e = SeededEntropy(seed: 9)
        return [PrivateKey.generate(using: &e).publicKey, PrivateKey.generate(using: &e).publicKey]
    }()
    var peer: PublicKey { Self.keys[0] }
    var other: PublicKey { Self.keys[1] }
    let direct = UDPAddress(ipv4: 203, 0, 113, 12, port: 41641)
    let t0 = MonotonicTime(nanoseconds: 1_000_000_000)

    @Test func theFirstPongFromWhereAPingWentAnswersTheRequest() throws {
        var table = OnDemandPings()
        var entropy = SeededEntropy(seed: 1)
        let started = try #require(table.start(peer: peer, targets: [direct, nil], now: t0, entropy: &entropy))
        #expect(started.pings.count == 2)
        let (directTxid, relayTxid) = (started.pings[0].0, started.pings[1].0)
        // The relayed Ping's Pong from an address, a Pong from another peer: not answers.
        #expect(table.answer(relayTxid, from: direct, peer: peer, now: t0 + .milliseconds(1)) == nil)
        #expect(table.answer(directTxid, from: direct, peer: other, now: t0 + .milliseconds(1)) == nil)
        let answer = table.answer(relayTxid, from: nil, peer: peer, now: t0 + .milliseconds(12))
        #expect(answer?.via == nil && answer?.latency == .milliseconds(12) && answer?.request == started.request)
        // The request is over: the direct Pong that comes later answers nothing.
        #expect(table.answer(directTxid, from: direct, peer: peer, now: t0 + .milliseconds(13)) == nil)
        #expect(table.requestsInFlight == 0)
    }

    @Test func requestsAndPingsAreBounded() {
        var table = OnDemandPings()
        var entropy = SeededEntropy(seed: 2)
        let many = [UDPAddress?](repeating: direct, count: 10)
        for _ in 0..<OnDemandPings.maxRequests {
            #expect(table.start(peer: peer, targets: many, now: t0, entropy: &entropy)?.pings.count == OnDemandPings.maxPingsPerRequest)
        }
        #expect(table.start(peer: peer, targets: [direct], now: t0, entropy: &entropy) == nil)
        #expect(table.start(peer: peer, targets: [], now: t0, entropy: &entropy) == nil)
        // Requests nobody cancelled are dropped after maxAge.
        #expect(table.start(peer: peer, targets: [direct], now: t0 + OnDemandPings.maxAge, entropy: &entropy) != nil)
        #expect(table.requestsInFlight == 1)
    }

    @Test func aCancelledRequestIgnoresItsPong() throws {
        var table = OnDemandPings()
        var entropy = SeededEntropy(seed: 3)
        let started = try #require(table.start(peer: peer, targets: [direct], now: t0, entropy: &entropy))
        table.cancel(started.request)
        #expect(table.answer(started.pings[0].0, from: direct, peer: peer, now: t0) == nil)
    }
}
