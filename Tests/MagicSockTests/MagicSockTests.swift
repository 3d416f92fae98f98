import Disco
import MagicSock
import MeshCrypto
import MeshIO
import Foundation
import Synchronization
import Testing
import WireGuard

@Suite struct MagicSockTests {
    @Test func relayFirstThenDirectAfterDiscovery() throws {
        let net = try TwoNodes()
        guard case .relay = net.a.steer(peer: net.peerBAtA, endpoint: net.addrB, now: net.now) else {
            Issue.record("first packet must go through the relay"); return
        }
        net.a.tick(now: net.now)
        net.deliverAll()
        guard case .direct(let d) = net.a.steer(peer: net.peerBAtA, endpoint: net.addrB, now: net.now) else {
            Issue.record("a Pong must give a direct path"); return
        }
        #expect(d == net.addrB)
        // B learnt A's path from its own pings (peer-reflexive and CallMeMaybe).
        guard case .direct(let back) = net.b.steer(peer: net.peerAAtB, endpoint: net.addrA, now: net.now) else {
            Issue.record("B should have a direct path too"); return
        }
        #expect(back == net.addrA)
        #expect(net.a.pathStatus().first?.description.hasPrefix("direct") == true)
    }

    /// The node is told once when a direct path becomes trusted (so the device can retry a
    /// handshake that went nowhere), not on every Pong; again after the path was lost and found.
    @Test func directPathConfirmationIsAnnouncedOncePerConfirmation() throws {
        let net = try TwoNodes()
        let tick = Duration.milliseconds(100)
        let seen = Mutex<[ObjectIdentifier]>([])
        net.a.onDirectPathConfirmed = { peer in seen.withLock { $0.append(ObjectIdentifier(peer)) } }
        _ = net.steerAtA()
        #expect(seen.withLock { $0.isEmpty })
        net.step(tick)  // discovery's Ping and its Pong
        #expect(seen.withLock { $0 } == [ObjectIdentifier(net.peerBAtA)])
        for _ in 0..<50 { net.step(tick) }  // 5 s of traffic with heartbeats answered: still one announcement
        #expect(seen.withLock { $0.count } == 1)
        net.udpWorks = false
        var lost = false
        for _ in 0..<100 where !lost {
            if case .direct = net.step(tick) {} else { lost = true }
        }
        #expect(lost)
        net.udpWorks = true
        for _ in 0..<700 where seen.withLock({ $0.count }) < 2 { net.step(tick) }
        #expect(seen.withLock { $0.count } == 2)
    }

    @Test func blockedUDPStaysOnRelay() throws {
        let net = try TwoNodes()
        net.udpWorks = false
        _ = net.a.steer(peer: net.peerBAtA, endpoint: net.addrB, now: net.now)
        for _ in 0..<20 {
            net.a.tick(now: net.now)
            net.b.tick(now: net.now)
            net.deliverAll()
            net.now = net.now + .milliseconds(500)
        }
        guard case .relay = net.a.steer(peer: net.peerBAtA, endpoint: net.addrB, now: net.now) else {
            Issue.record("no direct path can exist without UDP"); return
        }
    }

    @Test func directPathDiesThenRelayThenRecovers() throws {
        let net = try TwoNodes()
        _ = net.a.steer(peer: net.peerBAtA, endpoint: net.addrB, now: net.now)
        net.a.tick(now: net.now)
        net.deliverAll()
        net.udpWorks = false  // a firewall rule drops the direct path
        var relayedAt: MonotonicTime?
        let cut = net.now
        for _ in 0..<200 {  // 20 s in 100 ms steps, traffic flowing
            net.now = net.now + .milliseconds(100)
            if case .relay = net.a.steer(peer: net.peerBAtA, endpoint: net.addrB, now: net.now), relayedAt == nil {
                relayedAt = net.now
            }
            if case .both = net.a.steer(peer: net.peerBAtA, endpoint: net.addrB, now: net.now), relayedAt == nil {
                relayedAt = net.now  // relay carries traffic from here on too
            }
            net.a.tick(now: net.now)
            net.b.tick(now: net.now)
            net.deliverAll()
        }
        let moved = try #require(relayedAt) - cut
        #expect(moved <= .seconds(7), "traffic reached the relay after \(moved)")
        net.udpWorks = true
        var directAgain: MonotonicTime?
        let restored = net.now
        for _ in 0..<700 {  // up to 70 s
            net.now = net.now + .milliseconds(100)
            if case .direct = net.a.steer(peer: net.peerBAtA, endpoint: net.addrB, now: net.now) { directAgain = net.now; break }
            net.a.tick(now: net.now)
            net.b.tick(now: net.now)
            net.deliverAll()
        }
        let back = try #require(directAgain) - restored
        #expect(back <= .seconds(60), "direct again after \(back)")
    }

    @Test func discoFromStrangersIsDropped() throws {
        let net = try TwoNodes()
        var e = SeededEntropy(seed: 9)
        let stranger = PrivateKey.generate(using: &e)
        let txid = DiscoTransactionID(using: &e)
        let packet = DiscoPacket.seal(.ping(txid: txid, nodeKey: stranger.publicKey, padding: 0), from: stranger,
                                      to: net.a.discoKey.publicKey, entropy: &e)!
        packet.withUnsafeBytes { net.a.receive($0, kind: .disco, from: net.addrB, now: net.now) }
        [UInt8](repeating: 0x4D, count: 100).withUnsafeBytes { net.a.receive($0, kind: .disco, from: net.addrB, now: net.now) }
        #expect(net.a.discoDropped == 2)
        #expect(net.queue.isEmpty)  // no Pong for a stranger
    }
}
