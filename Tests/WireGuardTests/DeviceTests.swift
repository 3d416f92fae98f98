import MeshCrypto
import Testing
import WireGuard

@Suite struct DeviceTests {
    static let a: [UInt8] = [10, 0, 0, 1]
    static let b: [UInt8] = [10, 0, 0, 2]

    @Test func handshakeThenDataBothWays() throws {
        let pair = try InMemoryPair()
        #expect(pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true) == .staged)
        #expect(pair.messageTypes() == [1])  // an initiation went out at once
        pair.deliverAll()
        #expect(pair.results.prefix(2) == ["reply", "handshakeCompleted"])
        #expect(pair.deliveredToB == [InMemoryPair.ipv4(from: Self.a, to: Self.b)])
        let back = InMemoryPair.ipv4(from: Self.b, to: Self.a, payload: Array(repeating: 7, count: 1000))
        guard case .send = pair.send(back, fromA: false) else { Issue.record("B could not answer"); return }
        pair.deliverAll()
        #expect(pair.deliveredToA == [back])
        #expect(pair.b.peers.first?.snapshot().endpoint == pair.addressA)  // learned from the handshake
    }

    @Test func presharedKeyHandshake() throws {
        var e = SeededEntropy(seed: 5)
        let psk = PresharedKey(bytes: PrivateKey.generate(using: &e).bytes)
        let pair = try InMemoryPair(presharedKey: psk)
        pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true)
        pair.deliverAll()
        #expect(pair.deliveredToB.count == 1)
    }

    @Test func mismatchedPresharedKeyFails() throws {
        var e = SeededEntropy(seed: 5)
        let psk = PresharedKey(bytes: PrivateKey.generate(using: &e).bytes)
        let pair = try InMemoryPair(presharedKey: psk)
        // B's view uses a different PSK: rebuild B's peer entry.
        let other = PresharedKey(bytes: PrivateKey.generate(using: &e).bytes)
        pair.b.removePeer(pair.a.publicKey)
        _ = try pair.b.addPeer(publicKey: pair.a.publicKey, presharedKey: other, allowedIPs: [(Self.a, 32)], now: pair.now)
        pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true)
        pair.deliverAll()
        #expect(pair.results.contains("dropped:handshakeFailed"))
        #expect(pair.deliveredToB.isEmpty)
    }

    @Test func rekeysAfter120SecondsAndKeepsFlowing() throws {
        let pair = try InMemoryPair()
        pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true)
        pair.deliverAll()
        pair.results.removeAll()
        pair.advance(seconds: 121)
        guard case .send = pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true) else {
            Issue.record("the old session must still carry data before 180 s"); return
        }
        // The transport message and a fresh initiation are both on the wire.
        #expect(pair.messageTypes() == [4, 1])
        pair.deliverAll()
        #expect(pair.results.prefix(3) == ["packet", "reply", "handshakeCompleted"])
        #expect(pair.deliveredToB.count == 2)
        // Data after the rekey uses the new session and arrives.
        pair.advance(seconds: 70)  // 191 s after the first handshake: the old keys are dead
        guard case .send = pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true) else {
            Issue.record("new session not used"); return
        }
        pair.deliverAll()
        #expect(pair.deliveredToB.count == 3)
    }

    @Test func refusesDataAfter180SecondsWithoutRekey() throws {
        let pair = try InMemoryPair()
        pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true)
        pair.deliverAll()
        // Capture a valid transport message from B, then let the session age past REJECT_AFTER_TIME.
        guard case .send = pair.send(InMemoryPair.ipv4(from: Self.b, to: Self.a), fromA: false) else {
            Issue.record("no session"); return
        }
        let captured = pair.network.removeFirst()
        pair.advance(seconds: 181)
        #expect(pair.deliver(captured).isDropped(.expiredSession))
        // Neither side will seal with the dead session: packets are staged for a new handshake.
        #expect(pair.send(InMemoryPair.ipv4(from: Self.b, to: Self.a), fromA: false) == .staged)
        #expect(pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true) == .staged)
    }

    @Test func replayedTransportIsRejected() throws {
        let pair = try InMemoryPair()
        pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true)
        pair.deliverAll()
        pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true)
        let d = pair.network.removeFirst()
        guard case .packet = pair.deliver(d) else { Issue.record("first copy must pass"); return }
        #expect(pair.deliver(d).isDropped(.replayed))
    }

    @Test func reorderWithinWindowPassesBeyondWindowFails() throws {
        let pair = try InMemoryPair()
        pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true)
        pair.deliverAll()
        var sent: [InMemoryPair.Datagram] = []
        for _ in 0..<8300 {
            pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true)
            sent.append(pair.network.removeFirst())
        }
        guard case .packet = pair.deliver(sent[8299]) else { Issue.record("newest must pass"); return }
        // 8299 - 8100 = 199 behind: inside the window.
        guard case .packet = pair.deliver(sent[8100]) else { Issue.record("in-window reorder must pass"); return }
        guard case .packet = pair.deliver(sent[200]) else { Issue.record("8099 behind is still inside 8128"); return }
        // Counter 0 went to the staged packet, so sent[i] carries i + 1: sent[0] is 8299 behind, beyond the window.
        #expect(pair.deliver(sent[0]).isDropped(.replayed))
    }

    @Test func truncatedMessagesAreRejected() throws {
        let pair = try InMemoryPair()
        pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true)
        var initiation = pair.network.removeFirst()
        initiation.bytes.removeLast()
        #expect(pair.deliver(initiation).isDropped(.malformed))
        pair.tick()
        pair.advance(seconds: 6)
        pair.tick()  // retransmits the initiation
        pair.deliverAll()
        pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true)
        var transport = pair.network.removeFirst()
        let full = transport.bytes
        for cut in [0, 3, 4, 15, 16, 31, full.count - 1] {
            transport.bytes = Array(full.prefix(cut))
            #expect(pair.deliver(transport).isDropped(), "cut at \(cut)")
        }
        transport.bytes = full
        guard case .packet = pair.deliver(transport) else { Issue.record("intact message must still pass"); return }
    }

    @Test func bitFlipsAreRejected() throws {
        let pair = try InMemoryPair()
        pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true)
        let initiation = pair.network.removeFirst()
        for bit in stride(from: 8 * 8, to: initiation.bytes.count * 8 - 128, by: 97) {
            var flipped = initiation
            flipped.bytes[bit / 8] ^= 1 << (bit % 8)
            #expect(pair.deliver(flipped).isDropped(.invalidMAC1), "bit \(bit)")
        }
        pair.deliver(initiation)
        pair.deliverAll()
        pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true)
        let transport = pair.network.removeFirst()
        for bit in stride(from: 16 * 8, to: transport.bytes.count * 8, by: 13) {
            var flipped = transport
            flipped.bytes[bit / 8] ^= 1 << (bit % 8)
            #expect(pair.deliver(flipped).isDropped(.decryptionFailed), "bit \(bit)")
        }
        guard case .packet = pair.deliver(transport) else { Issue.record("original must pass"); return }
    }

    @Test func replayedInitiationIsRejected() throws {
        let pair = try InMemoryPair()
        pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true)
        let initiation = pair.network.removeFirst()
        guard case .reply = pair.deliver(initiation) else { Issue.record("first initiation must be answered"); return }
        pair.advance(seconds: 1)
        #expect(pair.deliver(initiation).isDropped(.replayedInitiation))
    }

    @Test func sourceOutsideAllowedIPsIsDropped() throws {
        let pair = try InMemoryPair()
        pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true)
        pair.deliverAll()
        // A seals a packet claiming a source that B does not allow for A.
        pair.send(InMemoryPair.ipv4(from: [10, 0, 0, 99], to: Self.b), fromA: true)
        #expect(pair.deliver(pair.network.removeFirst()).isDropped(.sourceNotAllowed))
    }

    @Test func cookieReplyUnderLoadThenMAC2Accepted() throws {
        var timers = ProtocolTimers()
        timers.rekeyTimeout = .seconds(5)
        let pair = try InMemoryPair(timers: timers, underLoadThresholdB: 0)
        pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true)
        pair.deliver(pair.network.removeFirst())
        #expect(pair.results == ["reply"])
        #expect(pair.network.first?.bytes.count == 64 && pair.network.first?.bytes[0] == 3)  // a cookie reply, not a response
        guard case .consumed = pair.deliver(pair.network.removeFirst()) else { Issue.record("cookie not accepted"); return }
        pair.advance(seconds: 5.5)
        pair.tick()  // retransmission carries mac2 now
        pair.deliverAll()
        #expect(pair.results.contains("handshakeCompleted"))
        #expect(pair.deliveredToB.count == 1)
    }

    @Test func keepaliveAfterReceivingDataAndSilence() throws {
        let pair = try InMemoryPair()
        pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true)
        pair.deliverAll()
        pair.advance(seconds: 10.1)
        pair.tick()
        // B received data and sent nothing for KEEPALIVE_TIMEOUT: it sends an empty transport message.
        #expect(pair.network.contains { $0.from == pair.addressB && $0.bytes[0] == 4 && $0.bytes.count == 32 })
        pair.deliverAll()
        #expect(pair.results.last == "keepalive")
    }

    @Test func handshakeGivesUpAfterRekeyAttemptTime() throws {
        let pair = try InMemoryPair()
        pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true)
        var initiations = 0
        for _ in 0..<(100 * 10) {  // 100 s in 100 ms steps, B unreachable
            initiations += pair.network.filter { $0.bytes[0] == 1 }.count
            pair.network.removeAll()
            pair.advance(seconds: 0.1)
            pair.tick()
        }
        // 90 s / 5 s = 18 retransmissions plus the first.
        #expect(initiations == 19)
    }

    @Test func persistentKeepaliveStartsHandshakeAndRepeats() throws {
        let pair = try InMemoryPair()
        _ = try pair.a.addPeer(publicKey: pair.b.publicKey, persistentKeepalive: .seconds(25),
                               allowedIPs: [(Self.b, 32)], now: pair.now)
        pair.tick()
        #expect(pair.messageTypes() == [1])
        pair.deliverAll()
        #expect(pair.results.contains("handshakeCompleted"))
        pair.results.removeAll()
        pair.advance(seconds: 25.1)
        pair.tick()
        pair.deliverAll()
        #expect(pair.results.contains("keepalive"))
    }

    @Test func garbageNeverCrashes() throws {
        let pair = try InMemoryPair()
        pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true)
        pair.deliverAll()
        var rng = SeededEntropy(seed: 7)
        for i in 0..<20_000 {
            let n = Int(rng.nextUInt32() % 300)
            var bytes = [UInt8](repeating: 0, count: n)
            bytes.withUnsafeMutableBytes { rng.fill($0) }
            if n >= 4 && i % 2 == 0 { bytes[0] = UInt8(1 + i % 4); bytes[1] = 0; bytes[2] = 0; bytes[3] = 0 }
            if n == 0 { continue }
            #expect(pair.deliver(.init(bytes: bytes, from: pair.addressA, to: pair.addressB)).isDropped())
        }
        pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true)
        pair.deliverAll()
        #expect(pair.deliveredToB.count == 2)
    }
}

extension ReceiveResult {
    func isDropped(_ reason: DropReason? = nil) -> Bool {
        if case .dropped(let r) = self { return reason == nil || r == reason }
        return false
    }
}
