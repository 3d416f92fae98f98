import MeshCrypto
import MeshWire
import Relay
import Synchronization
import Testing
import WireGuard

/// The coordinator's view in these tests: which node keys are registered and unexpired.
final class Registry: Sendable {
    let keys = Mutex(Set<PublicKey>())
    init(_ k: [PrivateKey]) { keys.withLock { $0 = Set(k.map(\.publicKey)) } }
    func remove(_ k: PrivateKey) { _ = keys.withLock { $0.remove(k.publicKey) } }
    func contains(_ k: PublicKey) -> Bool { keys.withLock { $0.contains(k) } }
}

struct Harness {
    static let server = relayKey(100)
    let nodes = (1...5).map { relayKey(UInt64($0)) }
    let registry: Registry
    var core: RelayServerCore
    var now = MonotonicTime(nanoseconds: 1_000_000_000_000)
    var unix: Int64 = 1_700_000_000
    var entropy = SeededEntropy(seed: 7)

    init(_ configure: (inout RelayServerConfig) -> Void = { _ in }) {
        var config = RelayServerConfig()
        configure(&config)
        registry = Registry(nodes.dropLast())  // nodes[4] is not registered
        let r = registry
        core = RelayServerCore(privateKey: Self.server, config: config, authorize: { r.contains($0) })
    }

    mutating func advance(_ d: Duration) {
        now = now + d
        unix += d.components.seconds
    }

    /// Accepts a connection and runs the client handshake; returns the connection and the
    /// actions of the ClientInfo step.
    @discardableResult
    mutating func connect(_ n: Int, clientConfig: RelayClientConfig = RelayClientConfig()) -> (RelayConnectionID, [RelayServerAction], RelayClientCore) {
        let (id, a0) = core.accept(now: now)
        #expect(a0 == [.wake(id)])
        var client = RelayClientCore(privateKey: nodes[n], config: clientConfig, now: now)
        let first = core.dequeueAll(id)
        #expect(first == [.serverKey(Self.server.publicKey)])
        let ev = try! client.receive(first[0], now: now, unixTime: unix, entropy: &entropy)
        guard case .send(let info) = ev.first else { fatalError() }
        let actions = core.receive(info, from: id, now: now, unixTime: unix, entropy: &entropy)
        if core.isAuthorized(id) {
            let reply = core.dequeueAll(id)
            #expect(reply.count == 1)
            let ev2 = try! client.receive(reply[0], now: now, unixTime: unix, entropy: &entropy)
            guard case .connected(let k, let si) = ev2.first else { fatalError("no ServerInfo") }
            #expect(k == Self.server.publicKey)
            #expect(si.keepAliveSeconds == 60)
        }
        return (id, actions, client)
    }

    mutating func send(_ from: RelayConnectionID, to n: Int, _ packet: [UInt8]) -> [RelayServerAction] {
        core.receive(.sendPacket(destination: nodes[n].publicKey, packet: packet), from: from, now: now, unixTime: unix,
                     entropy: &entropy)
    }

    func key(_ n: Int) -> PublicKey { nodes[n].publicKey }
}

@Suite struct RelayServerCoreTests {
    @Test func handshakeAuthorizesAProvenRegisteredKey() {
        var h = Harness()
        let (id, actions, client) = h.connect(0)
        #expect(actions == [.wake(id)])
        #expect(client.isConnected)
        #expect(h.core.isAuthorized(id))
        #expect(h.core.connection(for: h.key(0)) == id)
        #expect(h.core.stats.handshakesCompleted == 1)
        #expect(h.core.stats.authorizedClients == 1)
    }

    @Test func unregisteredKeyIsRefused() {
        var h = Harness()
        let (id, actions, _) = h.connect(4)
        #expect(actions == [.close(id, .refused(.notAuthorized))])
        #expect(!h.core.isConnected(id))
        #expect(h.core.stats.handshakesRefused == 1)
    }

    @Test func forgedStaleAndReplayedProofsAreRefused() {
        var h = Harness()
        // Forged: claims node 0's key, sealed with node 4's private key.
        var (id, _) = h.core.accept(now: h.now)
        guard case .clientInfo(_, let n, let s) = RelayClientProof.seal(nodeKey: h.nodes[4], serverKey: Harness.server.publicKey,
                                                                       unixTime: h.unix, nonce: nonceA)! else { fatalError() }
        var a = h.core.receive(.clientInfo(nodeKey: h.key(0), nonce: n, sealed: s), from: id, now: h.now, unixTime: h.unix, entropy: &h.entropy)
        #expect(a == [.close(id, .refused(.authenticationFailed))])

        // Stale.
        (id, _) = h.core.accept(now: h.now)
        let stale = RelayClientProof.seal(nodeKey: h.nodes[0], serverKey: Harness.server.publicKey, unixTime: h.unix - 120, nonce: nonceA)!
        a = h.core.receive(stale, from: id, now: h.now, unixTime: h.unix, entropy: &h.entropy)
        #expect(a == [.close(id, .refused(.staleTimestamp(skewSeconds: -120)))])

        // Replayed: a valid ClientInfo used twice.
        let good = RelayClientProof.seal(nodeKey: h.nodes[0], serverKey: Harness.server.publicKey, unixTime: h.unix, nonce: nonceA)!
        (id, _) = h.core.accept(now: h.now)
        a = h.core.receive(good, from: id, now: h.now, unixTime: h.unix, entropy: &h.entropy)
        #expect(h.core.isAuthorized(id))
        let (id2, _) = h.core.accept(now: h.now)
        a = h.core.receive(good, from: id2, now: h.now + .seconds(1), unixTime: h.unix + 1, entropy: &h.entropy)
        #expect(a == [.close(id2, .refused(.replayed))])
        #expect(h.core.isAuthorized(id), "a refused replay does not disturb the real connection")
    }

    @Test func framesBeforeClientInfoAreAViolation() {
        var h = Harness()
        let (id, _) = h.core.accept(now: h.now)
        let a = h.core.receive(.sendPacket(destination: h.key(1), packet: [1]), from: id, now: h.now, unixTime: h.unix, entropy: &h.entropy)
        #expect(a == [.close(id, .protocolViolation("expected ClientInfo first"))])
    }

    @Test func forwardsSendPacketAsRecvPacketFromTheSource() {
        var h = Harness()
        let (a, _, _) = h.connect(0)
        var (b, _, client) = h.connect(1)
        _ = h.core.dequeueAll(a)
        let actions = h.send(a, to: 1, [1, 0, 0, 0, 42])
        #expect(actions == [.wake(b)])
        // A second packet before the driver drained: no second wake.
        #expect(h.send(a, to: 1, [7]) == [])
        let frames = h.core.dequeueAll(b)
        #expect(frames == [.recvPacket(source: h.key(0), packet: [1, 0, 0, 0, 42]), .recvPacket(source: h.key(0), packet: [7])])
        let ev = try! client.receive(frames[0], now: h.now, unixTime: h.unix, entropy: &h.entropy)
        #expect(ev == [.packet(source: h.key(0), [1, 0, 0, 0, 42])])
        #expect(h.core.stats.packetsForwarded == 2)
        #expect(h.core.clientStats(for: h.key(0))?.packetsFrom == 2)
        #expect(h.core.clientStats(for: h.key(1))?.packetsTo == 2)
        // Drained: the next packet wakes again.
        #expect(h.send(a, to: 1, [8]) == [.wake(b)])
    }

    @Test func absentDestinationGetsOneNotHerePerInterval() {
        var h = Harness()
        let (a, _, _) = h.connect(0)
        _ = h.core.dequeueAll(a)
        for _ in 0..<100 { _ = h.send(a, to: 2, [1, 2, 3]) }
        for _ in 0..<10 { _ = h.send(a, to: 3, [1, 2, 3]) }
        #expect(h.core.dequeueAll(a) == [.peerGone(h.key(2), reason: .notHere), .peerGone(h.key(3), reason: .notHere)])
        h.advance(.seconds(4))
        _ = h.core.tick(now: h.now)
        _ = h.send(a, to: 2, [1])
        #expect(h.core.dequeueAll(a) == [])
        h.advance(.seconds(1))
        _ = h.core.tick(now: h.now)
        _ = h.send(a, to: 2, [1])
        #expect(h.core.dequeueAll(a) == [.peerGone(h.key(2), reason: .notHere)])
        #expect(h.core.stats.packetsToAbsentPeers == 112)
        #expect(h.core.stats.peerGoneNotHereSent == 3)
    }

    @Test func disconnectTellsRecentSendersOnly() {
        var h = Harness()
        let (a, _, _) = h.connect(0)
        let (b, _, _) = h.connect(1)
        let (c, _, _) = h.connect(2)
        let (d, _, _) = h.connect(3)
        _ = h.send(d, to: 1, [9])  // d sent long ago
        h.advance(.seconds(61))
        _ = h.core.tick(now: h.now)
        _ = h.send(a, to: 1, [1])
        for id in [a, b, c, d] { _ = h.core.dequeueAll(id) }
        let actions = h.core.connectionClosed(b, now: h.now)
        #expect(actions == [.wake(a)])
        #expect(h.core.dequeueAll(a) == [.peerGone(h.key(1), reason: .disconnected)])
        #expect(h.core.dequeueAll(c) == [])
        #expect(h.core.dequeueAll(d) == [])
        #expect(h.core.connection(for: h.key(1)) == nil)
        // Now b is absent.
        _ = h.send(a, to: 1, [1])
        #expect(h.core.dequeueAll(a) == [.peerGone(h.key(1), reason: .notHere)])
        #expect(h.core.connectionClosed(b, now: h.now) == [], "closing twice is harmless")
    }

    @Test func reconnectReplacesTheOldConnection() {
        var h = Harness()
        let (a, _, _) = h.connect(0)
        let (b1, _, _) = h.connect(1)
        _ = h.send(a, to: 1, [1])
        _ = h.core.dequeueAll(a)
        h.advance(.seconds(1))
        let (b2, actions, _) = h.connect(1)
        #expect(actions == [.close(b1, .replaced), .wake(b2)])
        #expect(h.core.connection(for: h.key(1)) == b2)
        #expect(!h.core.isConnected(b1))
        #expect(h.core.stats.connectionsReplaced == 1)
        // Frames still arriving on the old connection are ignored; its close notifies no one.
        #expect(h.send(b1, to: 0, [5]) == [])
        #expect(h.core.connectionClosed(b1, now: h.now) == [])
        #expect(h.core.dequeueAll(a) == [])
        // Traffic now goes to the new connection, and recent senders carried over.
        #expect(h.send(a, to: 1, [2]) == [.wake(b2)])
        #expect(h.core.dequeueAll(b2) == [.recvPacket(source: h.key(0), packet: [2])])
        _ = h.core.connectionClosed(b2, now: h.now)
        #expect(h.core.dequeueAll(a) == [.peerGone(h.key(1), reason: .disconnected)])
    }

    @Test func fullQueuesDropAndCountNeverGrow() {
        var h = Harness { $0.maxQueuedPackets = 10; $0.maxQueuedBytes = 2_000 }
        let (a, _, _) = h.connect(0)
        let (b, _, _) = h.connect(1)
        let (c, _, _) = h.connect(2)
        for id in [a, b, c] { _ = h.core.dequeueAll(id) }
        for i in 0..<50 { _ = h.send(a, to: 1, [UInt8(i)]) }
        var sb = h.core.clientStats(b)!
        #expect(sb.queuedPackets == 10)
        #expect(sb.droppedPackets == 40)
        #expect(h.core.stats.packetsDropped == 40)
        // Another destination is unaffected by b's full queue.
        #expect(h.send(a, to: 2, [1]) == [.wake(c)])
        #expect(h.core.dequeueAll(c).count == 1)
        // The oldest ten were kept, in order.
        let got = h.core.dequeueAll(b)
        #expect(got == (0..<10).map { .recvPacket(source: h.key(0), packet: [UInt8($0)]) })
        // Byte bound: 600-byte packets, at most 2,000 queued bytes → 3 fit.
        for _ in 0..<5 { _ = h.send(a, to: 1, [UInt8](repeating: 0, count: 600)) }
        sb = h.core.clientStats(b)!
        #expect(sb.queuedPackets == 3)
        #expect(sb.queuedBytes == 3 * (600 + 37))
        #expect(sb.droppedPackets == 42)
        #expect(sb.droppedBytes == 40 + 2 * 600)
        // Control frames still get through a full data queue.
        _ = h.core.receive(.ping([1, 2, 3, 4, 5, 6, 7, 8]), from: b, now: h.now, unixTime: h.unix, entropy: &h.entropy)
        #expect(h.core.dequeueAll(b).last == .pong([1, 2, 3, 4, 5, 6, 7, 8]))
    }

    @Test func revokeDisconnectsAtOnceAndRefusesReconnects() {
        var h = Harness()
        let (a, _, _) = h.connect(0)
        let (b, _, _) = h.connect(1)
        _ = h.send(a, to: 1, [1])
        _ = h.core.dequeueAll(a)
        let actions = h.core.revoke(h.key(1), now: h.now)
        #expect(actions == [.wake(a), .close(b, .revoked)])
        #expect(h.core.dequeueAll(a) == [.peerGone(h.key(1), reason: .disconnected)])
        // Its packets are refused at once, even ones already in flight on its connection.
        #expect(h.send(b, to: 0, [6]) == [])
        #expect(h.core.dequeueAll(a) == [])
        // Packets to it are not delivered.
        _ = h.send(a, to: 1, [2])
        #expect(h.core.dequeueAll(a) == [.peerGone(h.key(1), reason: .notHere)])
        // It cannot come back while revoked, even if the registry still lists it.
        h.advance(.seconds(1))
        let (b2, a2, _) = h.connect(1)
        #expect(a2 == [.close(b2, .refused(.revoked))])
        h.core.reinstate(h.key(1))
        h.advance(.seconds(1))
        let (b3, _, _) = h.connect(1)
        #expect(h.core.isAuthorized(b3))
        #expect(h.core.stats.revocations == 1)
    }

    @Test func expiredNodesAreDroppedOnReauthorization() {
        var h = Harness()
        let (a, _, _) = h.connect(0)
        h.registry.remove(h.nodes[0])
        h.advance(.seconds(29))
        #expect(h.core.tick(now: h.now) == [])
        h.advance(.seconds(1))
        #expect(h.core.tick(now: h.now) == [.close(a, .refused(.notAuthorized))])
    }

    @Test func keepAliveAtLeastEveryInterval() {
        var h = Harness { $0.reauthorizeInterval = nil }
        let (a, _, _) = h.connect(0)
        _ = h.core.dequeueAll(a)
        var keepAlives = 0
        for _ in 0..<(10 * 60) {  // ten minutes in 1 s ticks
            h.advance(.seconds(1))
            let actions = h.core.tick(now: h.now)
            for case .wake(let id) in actions {
                keepAlives += h.core.dequeueAll(id).filter { $0 == .keepAlive }.count
            }
        }
        #expect(keepAlives == 10)
        #expect(h.core.stats.keepAlivesSent == 10)
    }

    @Test func silentConnectionsTimeOut() {
        var h = Harness()
        let (id, _) = h.core.accept(now: h.now)
        h.advance(.seconds(9))
        #expect(h.core.tick(now: h.now) == [])
        h.advance(.seconds(1))
        #expect(h.core.tick(now: h.now) == [.close(id, .handshakeTimeout)])
        #expect(h.core.connectionCount == 0)
    }

    @Test func pingIsEchoed() {
        var h = Harness()
        let (a, _, _) = h.connect(0)
        _ = h.core.dequeueAll(a)
        _ = h.core.receive(.ping([8, 7, 6, 5, 4, 3, 2, 1]), from: a, now: h.now, unixTime: h.unix, entropy: &h.entropy)
        #expect(h.core.dequeueAll(a) == [.pong([8, 7, 6, 5, 4, 3, 2, 1])])
        #expect(h.core.stats.pongsSent == 1)
    }

    @Test func serverFramesFromAClientAreAViolation() {
        var h = Harness()
        let (a, _, _) = h.connect(0)
        let actions = h.core.receive(.recvPacket(source: h.key(1), packet: []), from: a, now: h.now, unixTime: h.unix, entropy: &h.entropy)
        #expect(actions == [.close(a, .protocolViolation("server-only frame from a client"))])
        #expect(h.core.stats.protocolViolations == 1)
    }
}
