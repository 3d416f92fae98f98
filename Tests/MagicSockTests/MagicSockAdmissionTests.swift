import Disco
import Foundation
import MagicSock
import MeshCrypto
import MeshIO
import Testing
import WireGuard

/// One MagicSock ("us") and the keys of its peers, with everything it sends recorded: the
/// tests play the peers (or strangers) by sealing packets themselves.
final class AdmissionHarness: @unchecked Sendable {
    struct Sent { var bytes: [UInt8]; var to: UDPAddress?; var relayTo: PublicKey? }
    final class Box<T>: @unchecked Sendable {
        private let lock = NSLock()
        private var value: T
        init(_ v: T) { value = v }
        func update(_ f: (inout T) -> Void) { lock.lock(); f(&value); lock.unlock() }
        var get: T { lock.lock(); defer { lock.unlock() }; return value }
    }
    let sent = Box<[Sent]>([])
    let keyComputations = Box(0)
    let us: MagicSock
    var peers: [(node: PrivateKey, disco: PrivateKey, peer: Peer, endpoint: UDPAddress)] = []
    let device: Device
    var now = MonotonicTime(nanoseconds: 10_000_000_000)
    var e = SeededEntropy(seed: 99)

    init(peerCount: Int = 1) throws {
        _ = Sodium.isReady
        let node = PrivateKey.generate(using: &e), disco = PrivateKey.generate(using: &e)
        device = Device(privateKey: node)
        let (sent, count) = (sent, keyComputations)
        us = MagicSock(discoKey: disco, nodeKey: node.publicKey,
                       sendUDP: { bytes, to in sent.update { $0.append(Sent(bytes: bytes, to: to)) } },
                       sendRelay: { key, bytes in sent.update { $0.append(Sent(bytes: bytes, relayTo: key)) } },
                       keyAgreement: { peer, own in
                           count.update { $0 += 1 }
                           return MeshCrypto.Box.SharedKey(peer: peer, own: own)
                       },
                       entropy: SeededEntropy(seed: 100))
        for i in 0..<peerCount {
            let n = PrivateKey.generate(using: &e), d = PrivateKey.generate(using: &e)
            let p = try device.addPeer(publicKey: n.publicKey, now: now)
            peers.append((n, d, p, UDPAddress(ipv4: 203, 0, 113, UInt8(10 + i), port: 41641)))
        }
        publish()
        us.setOwnEndpoints([UDPAddress(ipv4: 192, 0, 2, 1, port: 41641)])
    }

    func publish() {
        us.setPeers(peers.map { .init(nodeKey: $0.node.publicKey, discoKey: $0.disco.publicKey,
                                      endpoints: [$0.endpoint], wireGuardPeer: $0.peer) })
    }

    /// A disco packet from peer `i` to us.
    func sealed(_ m: DiscoMessage, from i: Int = 0) -> [UInt8] {
        DiscoPacket.seal(m, from: peers[i].disco, to: us.discoPublicKey, entropy: &e)!
    }

    func deliver(_ bytes: [UInt8], from source: UDPAddress) {
        bytes.withUnsafeBytes { us.receive($0, kind: .disco, from: source, now: now) }
    }

    func drain() -> [Sent] {
        var out: [Sent] = []
        sent.update { out = $0; $0.removeAll() }
        return out
    }

    func ping(nodeKey: PublicKey? = nil, padding: Int = 0) -> DiscoMessage {
        .ping(txid: DiscoTransactionID(using: &e), nodeKey: nodeKey ?? peers[0].node.publicKey, padding: padding)
    }
}

@Suite struct MagicSockAdmissionTests {
    /// Counted, not timed: the cost of a stranger's datagram is the key work it causes (none),
    /// and what it costs in time is measured by the benchmarks.
    @Test func floodFromStrangersCostsNoKeyWork() throws {
        let h = try AdmissionHarness()
        #expect(h.keyComputations.get == 1)
        // The lab's flood: "MESHDS" + 116 random bytes.
        var junk: [[UInt8]] = []
        for _ in 0..<1024 {
            var b = [UInt8](repeating: 0, count: 116)
            b.withUnsafeMutableBytes { h.e.fill($0) }
            junk.append(DiscoPacket.magic + b)
        }
        let source = UDPAddress(ipv4: 198, 51, 100, 66, port: 5555)
        let n = 100_000
        for i in 0..<n { junk[i & 1023].withUnsafeBytes { h.us.receive($0, kind: .disco, from: source, now: h.now) } }
        #expect(h.keyComputations.get == 1)
        #expect(h.us.discoDrops[.unknownSender] == UInt64(n))
        #expect(h.drain().isEmpty)
    }

    @Test func sharedKeyIsDerivedOncePerPeerDiscoKey() throws {
        let h = try AdmissionHarness(peerCount: 3)
        #expect(h.keyComputations.get == 3 && h.us.sharedKeyComputations == 3)
        for _ in 0..<10 { h.publish() }
        for i in 0..<50 {
            h.now = h.now + .seconds(1)
            h.deliver(h.sealed(h.ping(), from: 0), from: h.peers[0].endpoint)
            if i % 10 == 0 { h.us.tick(now: h.now) }
        }
        #expect(h.keyComputations.get == 3)
        #expect(h.drain().contains { $0.to == h.peers[0].endpoint })  // the Pongs went out
        // A peer restarts with a new disco key: that one key is derived again.
        h.peers[1].disco = PrivateKey.generate(using: &h.e)
        h.publish()
        #expect(h.keyComputations.get == 4)
        h.drain().forEach { _ in }
        h.deliver(h.sealed(h.ping(nodeKey: h.peers[1].node.publicKey), from: 1), from: h.peers[1].endpoint)
        #expect(h.drain().contains { $0.to == h.peers[1].endpoint })
    }

    @Test func everyRefusalIsCountedByReason() throws {
        let h = try AdmissionHarness(peerCount: 2)
        let src = h.peers[0].endpoint
        // unknownSender: properly sealed, but by a key that is no peer's.
        let stranger = PrivateKey.generate(using: &h.e)
        h.deliver(DiscoPacket.seal(h.ping(), from: stranger, to: h.us.discoPublicKey, entropy: &h.e)!, from: src)
        // malformed: too short; and an authentic box around an unknown message type.
        h.deliver(DiscoPacket.magic + [UInt8](repeating: 1, count: 40), from: src)
        let shared = try #require(MeshCrypto.Box.SharedKey(peer: h.us.discoPublicKey, own: h.peers[0].disco))
        var nonce = [UInt8](repeating: 7, count: 24)
        h.deliver(DiscoPacket.magic + h.peers[0].disco.publicKey.rawBytes + nonce + shared.seal([9, 0, 1, 2], nonce: nonce), from: src)
        // badSeal: a peer's key in the header, a box it did not seal.
        nonce[0] = 8
        h.deliver(DiscoPacket.magic + h.peers[0].disco.publicKey.rawBytes + nonce + [UInt8](repeating: 3, count: 60), from: src)
        // wrongPeer: a Ping naming another node key; a packet of peer 0 relayed by peer 1.
        h.deliver(h.sealed(h.ping(nodeKey: h.peers[1].node.publicKey)), from: src)
        _ = h.us.receiveFromRelay(h.sealed(h.ping()), from: h.peers[1].node.publicKey, now: h.now)
        // tooManyCandidates: a CallMeMaybe of 64.
        let many = (0..<64).map { UDPAddress(ipv4: 198, 51, 100, UInt8($0 + 1), port: 20000) }
        h.deliver(h.sealed(.callMeMaybe(endpoints: many)), from: src)
        // rateLimited: a second CallMeMaybe at once.
        h.deliver(h.sealed(.callMeMaybe(endpoints: [])), from: src)
        let d = h.us.discoDrops
        #expect(d[.unknownSender] == 1 && d[.malformed] == 2 && d[.badSeal] == 1 && d[.wrongPeer] == 2)
        #expect(d[.tooManyCandidates] == 1 && d[.rateLimited] == 1)
        #expect(h.us.discoDropsByReason == ["unknownSender": 1, "badSeal": 1, "malformed": 2, "rateLimited": 1,
                                            "tooManyCandidates": 1, "wrongPeer": 2])
        #expect(h.us.discoDropped == 8)
        #expect(h.keyComputations.get == 2)
    }

    /// The lab's CallMeMaybe flood (20 messages of 64 invented endpoints, 50 ms apart), then
    /// 45 s of path upkeep: before, 11,904 Pings went to invented addresses.
    @Test func callMeMaybeFloodPingsAtMostSixteenAndNoMoreBytesThanItCarried() throws {
        for perMessage in [64, 16, 4] {
            let h = try AdmissionHarness()
            let invented = { (m: Int, i: Int) in UDPAddress(ipv4: 198, 51, 100, UInt8(i + 1), port: UInt16(20000 + m * 100 + i)) }
            var received = 0
            for m in 0..<20 {
                let packet = h.sealed(.callMeMaybe(endpoints: (0..<perMessage).map { invented(m, $0) }))
                received += packet.count
                h.deliver(packet, from: h.peers[0].endpoint)
                h.now = h.now + .milliseconds(50)
            }
            var toInvented: [UDPAddress: Int] = [:]
            var bytesToInvented = 0
            for _ in 0..<450 {
                h.now = h.now + .milliseconds(100)
                h.us.tick(now: h.now)
                for s in h.drain() {
                    guard let to = s.to, to != h.peers[0].endpoint else { continue }
                    toInvented[to, default: 0] += 1
                    bytesToInvented += s.bytes.count
                }
            }
            for s in h.drain() { if let to = s.to, to != h.peers[0].endpoint { toInvented[to, default: 0] += 1; bytesToInvented += s.bytes.count } }
            #expect(toInvented.count <= PeerPath.maxCandidates, "\(perMessage)/message: \(toInvented.count) addresses pinged")
            #expect(bytesToInvented <= received, "\(perMessage)/message: sent \(bytesToInvented) B for \(received) B received")
            #expect(h.us.candidates(ofNode: h.peers[0].node.publicKey).count <= PeerPath.maxCandidates)
        }
    }

    /// Pings (replayed, from forged sources, padded or not): each answer goes to the Ping's
    /// source only, Pongs are rate-limited per peer, and the bytes sent never exceed those received.
    @Test func pingFloodIsAnsweredOnlyToSourcesWithinBudget() throws {
        let h = try AdmissionHarness()
        var received = 0, sentBytes = 0, pongs = 0
        var sources: Set<UDPAddress> = []
        for i in 0..<2000 {
            let src = UDPAddress(ipv4: 198, 51, 100, UInt8(i % 200), port: UInt16(3000 + i % 7))
            sources.insert(src)
            let packet = h.sealed(h.ping(padding: i % 2 == 0 ? 0 : DiscoLimits.pingBackPadding))
            received += packet.count
            h.deliver(packet, from: src)
            if i % 100 == 99 { h.now = h.now + .milliseconds(100) }
            for s in h.drain() {
                #expect(s.relayTo == nil && s.to.map(sources.contains) == true)
                sentBytes += s.bytes.count
                if s.bytes.count == DiscoLimits.pongLength { pongs += 1 }
            }
        }
        #expect(sentBytes <= received)
        // 2 s of flood: a burst of 8 plus 4 a second.
        #expect(pongs <= 8 + 4 * 2 + 1, "\(pongs) pongs")
        #expect(h.us.discoDrops[.rateLimited] > 0)
        #expect(h.us.candidates(ofNode: h.peers[0].node.publicKey).count <= 1 + PeerPath.maxReflexive)
    }

    @Test func perSourceBudgetStopsOneSourceBeforeOpening() throws {
        let h = try AdmissionHarness()
        let src = UDPAddress(ipv4: 198, 51, 100, 9, port: 9)
        // Pongs that answer nothing: authentic but useless; only the per-source budget applies.
        for _ in 0..<100 {
            h.deliver(h.sealed(.pong(txid: DiscoTransactionID(using: &h.e), source: src)), from: src)
        }
        #expect(h.us.discoDrops[.rateLimited] == UInt64(100 - DiscoLimits.standard.perSourceBurst))
        // Another source is unaffected.
        h.deliver(h.sealed(h.ping()), from: h.peers[0].endpoint)
        #expect(h.drain().contains { $0.to == h.peers[0].endpoint })
    }

    /// A Ping through the relay was seen from no address: its Pong goes back through the relay
    /// saying so (`[::]:0`), nothing goes to any address, and the path learns nothing direct.
    @Test func aRelayedPingIsAnsweredThroughTheRelayAndNamesNoAddress() throws {
        let h = try AdmissionHarness()
        let peer = h.peers[0]
        #expect(h.us.receiveFromRelay(h.sealed(h.ping()), from: peer.node.publicKey, now: h.now) == false)
        let sent = h.drain()
        #expect(sent.count == 1)
        let pong = try #require(sent.first)
        #expect(pong.to == nil && pong.relayTo == peer.node.publicKey)
        let opened = try DiscoPacket.open(pong.bytes, with: peer.disco)
        guard case .pong(_, let source) = opened.message else { Issue.record("not a Pong: \(opened.message)"); return }
        #expect(source == .unspecified)
        #expect(h.us.pathStatus().first?.direct == nil)
        // A WireGuard datagram from the relay is left to the data plane.
        #expect(h.us.receiveFromRelay([4, 0, 0, 0] + [UInt8](repeating: 0, count: 28), from: peer.node.publicKey, now: h.now))
    }

    /// Relayed disco has no source for the per-source limiter; the peer's own budget (the same
    /// burst) bounds how many boxes a flood through the relay makes us open.
    @Test func relayedDiscoIsBoundedPerPeer() throws {
        let h = try AdmissionHarness(peerCount: 2)
        let limits = DiscoLimits.standard
        let flood = limits.perSourceBurst + 20
        // Pongs: no per-message budget of their own, so every refusal here is the relayed one.
        for _ in 0..<flood {
            let pong = DiscoMessage.pong(txid: DiscoTransactionID(using: &h.e), source: .unspecified)
            h.us.receiveFromRelay(h.sealed(pong), from: h.peers[0].node.publicKey, now: h.now)
        }
        #expect(h.us.discoDrops[.rateLimited] == 20)
        #expect(h.drain().isEmpty)
        // Peer 1's relayed disco has its own budget.
        h.us.receiveFromRelay(h.sealed(h.ping(nodeKey: h.peers[1].node.publicKey), from: 1),
                              from: h.peers[1].node.publicKey, now: h.now)
        #expect(h.drain().contains { $0.relayTo == h.peers[1].node.publicKey })
    }
}
