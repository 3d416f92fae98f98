import Disco
import MagicSock
import MeshCrypto
import MeshIO
import Foundation
import Testing
import WireGuard

/// Two MagicSocks joined by an in-memory network: UDP between their addresses (which can be
/// cut, like a firewall rule) and a relay that always delivers.
final class TwoNodes: @unchecked Sendable {
    struct Packet { var bytes: [UInt8]; var from: UDPAddress; var to: UDPAddress?; var relayTo: PublicKey? }
    let addrA = UDPAddress(ipv4: 203, 0, 113, 11, port: 41641)
    let addrB = UDPAddress(ipv4: 203, 0, 113, 12, port: 41641)
    /// The wire: what the two sides have sent and not yet been delivered.
    final class Wire: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [Packet] = []
        func append(_ p: Packet) { lock.lock(); items.append(p); lock.unlock() }
        func drain() -> [Packet] { lock.lock(); defer { items.removeAll(); lock.unlock() }; return items }
        var isEmpty: Bool { lock.lock(); defer { lock.unlock() }; return items.isEmpty }
    }
    let queue = Wire()
    var a: MagicSock!
    var b: MagicSock!
    var peerBAtA: Peer!
    var peerAAtB: Peer!
    var udpWorks = true
    var now = MonotonicTime(nanoseconds: 1_000_000_000)

    init() throws {
        _ = Sodium.isReady
        var e = SeededEntropy(seed: 42)
        let nodeA = PrivateKey.generate(using: &e), nodeB = PrivateKey.generate(using: &e)
        let discoA = PrivateKey.generate(using: &e), discoB = PrivateKey.generate(using: &e)
        let devA = Device(privateKey: nodeA), devB = Device(privateKey: nodeB)
        peerBAtA = try devA.addPeer(publicKey: nodeB.publicKey, now: now)
        peerAAtB = try devB.addPeer(publicKey: nodeA.publicKey, now: now)
        let (aAddr, bAddr) = (addrA, addrB)
        a = MagicSock(discoKey: discoA, nodeKey: nodeA.publicKey,
                      sendUDP: { [queue] bytes, to in queue.append(Packet(bytes: bytes, from: aAddr, to: to)) },
                      sendRelay: { [queue] key, bytes in queue.append(Packet(bytes: bytes, from: aAddr, relayTo: key)) })
        b = MagicSock(discoKey: discoB, nodeKey: nodeB.publicKey,
                      sendUDP: { [queue] bytes, to in queue.append(Packet(bytes: bytes, from: bAddr, to: to)) },
                      sendRelay: { [queue] key, bytes in queue.append(Packet(bytes: bytes, from: bAddr, relayTo: key)) })
        a.setPeers([.init(nodeKey: nodeB.publicKey, discoKey: discoB.publicKey, endpoints: [addrB], wireGuardPeer: peerBAtA)])
        b.setPeers([.init(nodeKey: nodeA.publicKey, discoKey: discoA.publicKey, endpoints: [addrA], wireGuardPeer: peerAAtB)])
        a.setOwnEndpoints([addrA])
        b.setOwnEndpoints([addrB])
    }

    /// Delivers everything queued (and what that triggers), 1 ms per hop.
    func deliverAll() {
        for _ in 0..<50 {
            let batch = queue.drain()
            if batch.isEmpty { return }
            now = now + .milliseconds(1)
            for p in batch {
                let toA = p.relayTo == a.nodeKey || p.to == addrA
                let target: MagicSock = toA ? a : b
                if p.relayTo != nil {
                    _ = target.receiveFromRelay(p.bytes, from: toA ? b.nodeKey : a.nodeKey, now: now)
                } else if udpWorks {
                    p.bytes.withUnsafeBytes { target.receive($0, kind: .disco, from: p.from, now: now) }
                }
            }
        }
    }
}

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
