import MeshCrypto
import MeshWire
import Relay
import Testing
import WireGuard

@Suite struct RelayClientCoreTests {
    let server = relayKey(100)
    let node = relayKey(1)
    let t0 = MonotonicTime(nanoseconds: 5_000_000_000)

    @Test func pinnedKeyMismatchIsRefused() {
        var e = SeededEntropy(seed: 1)
        var c = RelayClientCore(privateKey: node, config: RelayClientConfig(pinnedServerKey: server.publicKey), now: t0)
        let impostor = relayKey(101).publicKey
        #expect(throws: RelayClientError.serverKeyMismatch(expected: server.publicKey, got: impostor)) {
            try c.receive(.serverKey(impostor), now: t0, unixTime: 0, entropy: &e)
        }
    }

    @Test func serverInfoMustBeSealedByTheRelayForThisConnection() throws {
        var e = SeededEntropy(seed: 1)
        var c = RelayClientCore(privateKey: node, config: RelayClientConfig(pinnedServerKey: server.publicKey), now: t0)
        let ev = try c.receive(.serverKey(server.publicKey), now: t0, unixTime: 0, entropy: &e)
        guard case .send(.clientInfo(_, let nonce, _)) = ev.first else { Issue.record("no ClientInfo"); return }
        // An impostor that only knows the public key cannot seal ServerInfo.
        let wrong = Box.SharedKey(peer: node.publicKey, own: relayKey(101))!
        let info = RelayServerInfo(clientNonce: nonce, keepAliveSeconds: 60, maxPacketBytes: 1000, queueLimitPackets: 1, queueLimitBytes: 1)
        var c2 = c
        #expect(throws: RelayClientError.serverInfoInvalid) {
            try c2.receive(.serverInfo(info.sealedPayload(shared: wrong, nonce: nonceA)), now: t0, unixTime: 0, entropy: &e)
        }
        // A genuine ServerInfo of another connection (other nonce) is refused too.
        let right = Box.SharedKey(peer: node.publicKey, own: server)!
        var old = info
        old.clientNonce = [UInt8](repeating: 0, count: 24)
        c2 = c
        #expect(throws: RelayClientError.serverInfoInvalid) {
            try c2.receive(.serverInfo(old.sealedPayload(shared: right, nonce: nonceA)), now: t0, unixTime: 0, entropy: &e)
        }
        let ok = try c.receive(.serverInfo(info.sealedPayload(shared: right, nonce: nonceA)), now: t0, unixTime: 0, entropy: &e)
        #expect(ok == [.connected(serverKey: server.publicKey, info)])
        #expect(try c.send(to: server.publicKey, packet: [1]) == .sendPacket(destination: server.publicKey, packet: [1]))
        #expect(throws: RelayClientError.packetTooLarge(1001)) { try c.send(to: server.publicKey, packet: [UInt8](repeating: 0, count: 1001)) }
    }

    @Test func sendBeforeTheHandshakeFails() {
        let c = RelayClientCore(privateKey: node, now: t0)
        #expect(throws: RelayClientError.notConnected) { try c.send(to: server.publicKey, packet: [1]) }
    }

    /// A whole conversation against the real server core.
    @Test func talksToTheServerCore() throws {
        var e = SeededEntropy(seed: 3)
        let peer = relayKey(2)
        let keys = [node.publicKey, peer.publicKey]
        var s = RelayServerCore(privateKey: server, authorize: { keys.contains($0) })
        var clients: [RelayClientCore] = []
        var ids: [RelayConnectionID] = []
        for k in [node, peer] {
            let (id, _) = s.accept(now: t0)
            var c = RelayClientCore(privateKey: k, config: RelayClientConfig(pinnedServerKey: server.publicKey), now: t0)
            for f in s.dequeueAll(id) {
                for case .send(let out) in try c.receive(f, now: t0, unixTime: 1000, entropy: &e) {
                    _ = s.receive(out, from: id, now: t0, unixTime: 1000, entropy: &e)
                }
            }
            for f in s.dequeueAll(id) { _ = try c.receive(f, now: t0, unixTime: 1000, entropy: &e) }
            #expect(c.isConnected)
            clients.append(c)
            ids.append(id)
        }
        _ = s.receive(try clients[0].send(to: peer.publicKey, packet: [4, 0, 0, 0, 1]), from: ids[0], now: t0, unixTime: 1000, entropy: &e)
        var got: [RelayClientEvent] = []
        for f in s.dequeueAll(ids[1]) { got += try clients[1].receive(f, now: t0, unixTime: 1000, entropy: &e) }
        #expect(got == [.packet(source: node.publicKey, [4, 0, 0, 0, 1])])
        _ = s.connectionClosed(ids[1], now: t0)
        got = []
        for f in s.dequeueAll(ids[0]) { got += try clients[0].receive(f, now: t0, unixTime: 1000, entropy: &e) }
        #expect(got == [.peerGone(peer.publicKey, .disconnected)])
    }

    @Test func timersPingAndTimeOut() throws {
        var e = SeededEntropy(seed: 4)
        var c = RelayClientCore(privateKey: node, now: t0)
        #expect(try c.tick(now: t0 + .seconds(9), entropy: &e) == [])
        var c2 = c
        #expect(throws: RelayClientError.handshakeTimeout) { try c2.tick(now: t0 + .seconds(10), entropy: &e) }

        // Connect.
        let ev = try c.receive(.serverKey(server.publicKey), now: t0, unixTime: 0, entropy: &e)
        guard case .send(.clientInfo(_, let nonce, _)) = ev.first else { Issue.record("no ClientInfo"); return }
        let shared = Box.SharedKey(peer: node.publicKey, own: server)!
        let info = RelayServerInfo(clientNonce: nonce, keepAliveSeconds: 60, maxPacketBytes: 65_000, queueLimitPackets: 1, queueLimitBytes: 1)
        _ = try c.receive(.serverInfo(info.sealedPayload(shared: shared, nonce: nonceA)), now: t0, unixTime: 0, entropy: &e)

        #expect(try c.tick(now: t0 + .seconds(29), entropy: &e) == [])
        let pings = try c.tick(now: t0 + .seconds(30), entropy: &e)
        guard case .ping(let payload) = pings.first else { Issue.record("no ping"); return }
        #expect(try c.tick(now: t0 + .seconds(31), entropy: &e) == [], "one ping per interval")
        let pong = try c.receive(.pong(payload), now: t0 + .seconds(30.25), unixTime: 0, entropy: &e)
        #expect(pong == [.pong(payload, rtt: .milliseconds(250))])
        #expect(try c.receive(.ping([1, 1, 1, 1, 1, 1, 1, 1]), now: t0 + .seconds(31), unixTime: 0, entropy: &e)
                == [.send(.pong([1, 1, 1, 1, 1, 1, 1, 1]))])
        #expect(throws: RelayClientError.readTimeout) { try c.tick(now: t0 + .seconds(31 + 75), entropy: &e) }
        #expect(throws: RelayClientError.self) { try c.receive(.serverKey(server.publicKey), now: t0, unixTime: 0, entropy: &e) }
    }

    /// A connected client (ServerInfo accepted at `t0`).
    func connected(_ e: inout SeededEntropy) throws -> RelayClientCore {
        var c = RelayClientCore(privateKey: node, now: t0)
        let ev = try c.receive(.serverKey(server.publicKey), now: t0, unixTime: 0, entropy: &e)
        guard case .send(.clientInfo(_, let nonce, _)) = ev.first else { throw RelayClientError.unexpectedFrame("no ClientInfo") }
        let shared = Box.SharedKey(peer: node.publicKey, own: server)!
        let info = RelayServerInfo(clientNonce: nonce, keepAliveSeconds: 60, maxPacketBytes: 65_000, queueLimitPackets: 1, queueLimitBytes: 1)
        _ = try c.receive(.serverInfo(info.sealedPayload(shared: shared, nonce: nonceA)), now: t0, unixTime: 0, entropy: &e)
        return c
    }

    /// The home relay is pinged after 1 s of quiet and given up 2.5 s after an unanswered
    /// ping: a region that goes silent (no FIN, no RST) costs seconds, not the read timeout.
    @Test func homeConnectionIsWatchedClosely() throws {
        var e = SeededEntropy(seed: 5)
        var c = try connected(&e)
        #expect(try c.tick(now: t0 + 0.9, home: true, entropy: &e) == [])
        let first = try c.tick(now: t0 + 1.0, home: true, entropy: &e)
        guard case .ping(let payload) = first.first else { Issue.record("no ping at 1 s"); return }
        // Answered: the watch starts over from the pong.
        _ = try c.receive(.pong(payload), now: t0 + 1.05, unixTime: 0, entropy: &e)
        #expect(try c.tick(now: t0 + 2.0, home: true, entropy: &e) == [])
        #expect(try c.tick(now: t0 + 2.05, home: true, entropy: &e).count == 1)
        // Unanswered: pings go on each second, and 2.5 s after the first the connection is dead.
        #expect(try c.tick(now: t0 + 3.05, home: true, entropy: &e).count == 1)
        #expect(try c.tick(now: t0 + 4.5, home: true, entropy: &e).count == 1)
        #expect(throws: RelayClientError.pongTimeout) { try c.tick(now: t0 + 4.55, home: true, entropy: &e) }
    }

    /// Any frame from the relay counts as an answer, not only the pong.
    @Test func anyTrafficAnswersAWatchedPing() throws {
        var e = SeededEntropy(seed: 6)
        var c = try connected(&e)
        #expect(try c.tick(now: t0 + 1.0, home: true, entropy: &e).count == 1)
        c.noteReceived(now: t0 + 3.0)
        #expect(try c.tick(now: t0 + 3.6, home: true, entropy: &e) == [])
        #expect(try c.tick(now: t0 + 4.0, home: true, entropy: &e).count == 1)
        #expect(try c.tick(now: t0 + 6.4, home: true, entropy: &e).count == 1)
        #expect(throws: RelayClientError.pongTimeout) { try c.tick(now: t0 + 6.5, home: true, entropy: &e) }
    }

    /// A connection that is not home is watched closely only while the node sends through it,
    /// and for `sendingWindow` after; idle ones keep the 30 s ping and 75 s read timeout.
    @Test func sendingWatchesANonHomeConnectionForAWhile() throws {
        var e = SeededEntropy(seed: 7)
        var c = try connected(&e)
        #expect(try c.tick(now: t0 + 5, entropy: &e) == [], "idle and not home: no ping before 30 s")
        c.noteSent(now: t0 + 5)
        let ping = try c.tick(now: t0 + 5.25, entropy: &e)
        guard case .ping(let payload) = ping.first else { Issue.record("no ping while sending"); return }
        _ = try c.receive(.pong(payload), now: t0 + 5.3, unixTime: 0, entropy: &e)
        // The window ends 10 s after the last send: then no pings until the idle interval.
        #expect(try c.tick(now: t0 + 6.3, entropy: &e).count == 1)
        _ = try c.receive(.pong([0, 0, 0, 0, 0, 0, 0, 0]), now: t0 + 6.35, unixTime: 0, entropy: &e)
        #expect(try c.tick(now: t0 + 15.1, entropy: &e) == [], "window over: idle again")
        #expect(try c.tick(now: t0 + 36.2, entropy: &e) == [])
        #expect(try c.tick(now: t0 + 36.35, entropy: &e).count == 1, "idle ping 30 s after the last frame")
        // An unanswered idle ping is not judged by the close watch: only the read timeout ends it.
        #expect(try c.tick(now: t0 + 60, entropy: &e) == [])
        #expect(throws: RelayClientError.readTimeout) { try c.tick(now: t0 + 6.35 + 75, entropy: &e) }
    }
}

extension MonotonicTime {
    static func + (a: MonotonicTime, s: Double) -> MonotonicTime { MonotonicTime(nanoseconds: a.nanoseconds + Int64((s * 1e9).rounded())) }
}
