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

    /// A handshake sent before any path existed is retried as soon as the transport finds one,
    /// not after the rest of REKEY_TIMEOUT; with no handshake in flight nothing is sent.
    @Test func expeditedHandshakeGoesAtTheNextTick() throws {
        let pair = try InMemoryPair()
        pair.a.expediteHandshake(pair.bAtA, now: pair.now)
        pair.tick()
        #expect(pair.network.isEmpty, "nothing in flight: nothing to expedite")
        pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true)
        #expect(pair.messageTypes() == [1])
        pair.network.removeAll()  // the first initiation went nowhere
        pair.advance(seconds: 0.2)
        pair.tick()
        #expect(pair.network.isEmpty, "the retransmission waits for REKEY_TIMEOUT by itself")
        pair.a.expediteHandshake(pair.bAtA, now: pair.now)
        pair.advance(seconds: 0.05)
        pair.tick()
        #expect(pair.messageTypes() == [1])
        pair.deliverAll()
        #expect(pair.results.contains("handshakeCompleted"))
        #expect(pair.deliveredToB.count == 1, "the staged packet follows the handshake")
        // Once the session is up, expediting does nothing.
        pair.network.removeAll()
        pair.a.expediteHandshake(pair.bAtA, now: pair.now)
        pair.advance(seconds: 0.05)
        pair.tick()
        #expect(!pair.network.contains { $0.bytes[0] == 1 })
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

    // MARK: Endpoint roaming

    static let roamedA = UDPAddress(ipv4: 198, 51, 100, 1, port: 40001)
    static let roamedB = UDPAddress(ipv4: 198, 51, 100, 2, port: 40002)

    /// A's initiation arrives at B from `roamedA`; B's response is handed to A as coming from
    /// `roamedB`. Returns where B sent the response, nil if the handshake did not complete.
    static func handshakeFromRoamedAddresses(_ pair: InMemoryPair) -> UDPAddress? {
        pair.send(InMemoryPair.ipv4(from: a, to: b), fromA: true)
        var initiation = pair.network.removeFirst()
        initiation.from = roamedA
        guard case .reply(_, let answeredTo, _) = pair.deliver(initiation) else { return nil }
        var response = pair.network.removeFirst()
        response.from = roamedB
        response.to = pair.addressA
        guard case .handshakeCompleted = pair.deliver(response) else { return nil }
        return answeredTo
    }

    @Test func endpointFollowsAuthenticatedPacketsByDefault() throws {
        let pair = try InMemoryPair(bKnowsEndpointOfA: true)
        #expect(!pair.a.pathsChosenByTransport && !pair.b.pathsChosenByTransport)
        #expect(Self.handshakeFromRoamedAddresses(pair) == Self.roamedA)
        // Initiation and response each moved the receiver's endpoint to where they came from.
        #expect(pair.aAtB.currentEndpoint == Self.roamedA)
        #expect(pair.bAtA.currentEndpoint == Self.roamedB)
        // So A's staged packet, flushed on completion, went to B's new address.
        let flushed = try #require(pair.network.first)
        #expect(flushed.to == Self.roamedB)
        // A transport message from A's old address moves B's endpoint back.
        guard case .packet = pair.deliver(pair.network.removeFirst()) else { Issue.record("data must pass"); return }
        #expect(pair.aAtB.currentEndpoint == pair.addressA)

        // A message that fails authentication moves nothing.
        guard case .send = pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true) else {
            Issue.record("no session"); return
        }
        var forged = pair.network.removeFirst()
        forged.bytes[forged.bytes.count - 1] ^= 1
        forged.from = Self.roamedA
        #expect(pair.deliver(forged).isDropped(.decryptionFailed))
        #expect(pair.aAtB.currentEndpoint == pair.addressA)
    }

    @Test func endpointStaysWhereConfiguredWhenTheTransportChoosesPaths() throws {
        let pair = try InMemoryPair(bKnowsEndpointOfA: true)
        pair.a.pathsChosenByTransport = true
        pair.b.pathsChosenByTransport = true
        #expect(pair.a.pathsChosenByTransport && pair.b.pathsChosenByTransport)
        // Handshake messages from anywhere are still answered (at their source) and completed...
        #expect(Self.handshakeFromRoamedAddresses(pair) == Self.roamedA)
        // ...but neither endpoint moved.
        #expect(pair.aAtB.currentEndpoint == pair.addressA)
        #expect(pair.bAtA.currentEndpoint == pair.addressB)
        var flushed = pair.network.removeFirst()
        #expect(flushed.to == pair.addressB)
        // Transport data from a new source is accepted and changes nothing either.
        flushed.from = Self.roamedA
        guard case .packet = pair.deliver(flushed) else { Issue.record("data from anywhere must pass"); return }
        #expect(pair.deliveredToB.count == 1)
        #expect(pair.aAtB.currentEndpoint == pair.addressA)
        guard case .send(_, let to) = pair.send(InMemoryPair.ipv4(from: Self.b, to: Self.a), fromA: false) else {
            Issue.record("B could not answer"); return
        }
        #expect(to == pair.addressA)
        var back = pair.network.removeFirst()
        back.from = Self.roamedB
        guard case .packet = pair.deliver(back) else { Issue.record("data from anywhere must pass"); return }
        #expect(pair.bAtA.currentEndpoint == pair.addressB)

        // Back with the device, the next authenticated packet moves the endpoint again.
        pair.a.pathsChosenByTransport = false
        #expect(!pair.a.pathsChosenByTransport)
        pair.send(InMemoryPair.ipv4(from: Self.b, to: Self.a), fromA: false)
        var again = pair.network.removeFirst()
        again.from = Self.roamedB
        guard case .packet = pair.deliver(again) else { Issue.record("data must pass"); return }
        #expect(pair.bAtA.currentEndpoint == Self.roamedB)
    }

    @Test func withoutAnEndpointTheDeviceLeavesThePathToTheTransport() throws {
        let pair = try InMemoryPair()  // B has no endpoint for A
        // Left to the device (standalone), a peer without an endpoint cannot be sent to.
        let standalone = try InMemoryPair()
        #expect(standalone.send(InMemoryPair.ipv4(from: Self.b, to: Self.a), fromA: false) == .dropped(.noEndpoint))
        pair.b.pathsChosenByTransport = true
        pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true)
        pair.deliverAll()
        #expect(pair.deliveredToB.count == 1)
        // Nothing B received gave A an endpoint at B.
        #expect(pair.aAtB.currentEndpoint == nil)
        // B still seals for A: the datagram carries no destination, the transport picks the path.
        guard case .send(let length, let to) = pair.send(InMemoryPair.ipv4(from: Self.b, to: Self.a), fromA: false) else {
            Issue.record("B could not seal for A without an endpoint"); return
        }
        #expect(length > 0 && to == nil)
        #expect(pair.network.count == 1 && pair.network[0].to == nil)
        pair.network.removeAll()
        pair.aAtB.setEndpoint(pair.addressA)
        guard case .send(_, let configured) = pair.send(InMemoryPair.ipv4(from: Self.b, to: Self.a), fromA: false) else {
            Issue.record("B could not send after the endpoint was set"); return
        }
        #expect(configured == pair.addressA)
    }

    // MARK: Released indices leave the index table

    /// The receiver index a message names (transport) or the sender index it announces (initiation).
    static func index(at offset: Int, of d: InMemoryPair.Datagram) -> UInt32 {
        UInt32(d.bytes[offset]) | UInt32(d.bytes[offset + 1]) << 8 | UInt32(d.bytes[offset + 2]) << 16
            | UInt32(d.bytes[offset + 3]) << 24
    }

    /// Whether A (or B) still has `index` in its index table. A cookie reply is looked up there
    /// and nowhere else, so one naming a held index fails only its decryption, while one naming a
    /// freed index is unknown: this sees a leaked index that no session refers to any more.
    static func holds(_ pair: InMemoryPair, atA: Bool, _ index: UInt32) -> Bool {
        var bytes = [UInt8](repeating: 0, count: MessageLayout.cookieReplySize)
        bytes[0] = 3
        for i in 0..<4 { bytes[4 + i] = UInt8(truncatingIfNeeded: index >> (8 * UInt32(i))) }
        let result = pair.deliver(.init(bytes: bytes, from: atA ? pair.addressB : pair.addressA,
                                        to: atA ? pair.addressA : pair.addressB))
        return result.isDropped(.invalidCookieReply)
    }

    /// Sends one packet from A and takes its transport message off the network undelivered.
    static func captureFromA(_ pair: InMemoryPair) -> InMemoryPair.Datagram? {
        guard case .send = pair.send(InMemoryPair.ipv4(from: a, to: b), fromA: true) else { return nil }
        return pair.network.firstIndex { $0.bytes[0] == 4 }.map { pair.network.remove(at: $0) }
    }

    @Test func rotatedOutAndExpiredSessionsLeaveTheIndexTable() throws {
        let pair = try InMemoryPair()
        pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true)
        pair.deliverAll()
        let first = try #require(Self.captureFromA(pair))
        let firstIndex = Self.index(at: 4, of: first)
        let alsoFirst = try #require(Self.captureFromA(pair))
        #expect(Self.holds(pair, atA: false, firstIndex))

        // Rekey: B answers (the new session waits in next) and A's keepalive confirms it.
        pair.advance(seconds: 121)
        pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true)
        pair.deliverAll()
        let secondIndex = Self.index(at: 4, of: try #require(Self.captureFromA(pair)))
        #expect(secondIndex != firstIndex)
        // The first session is previous now: still held, still decrypting what was in flight.
        #expect(Self.holds(pair, atA: false, firstIndex))
        guard case .packet = pair.deliver(first) else { Issue.record("previous session must still decrypt"); return }

        // The next rekey makes B drop previous, and its index with it.
        pair.advance(seconds: 121)
        pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true)
        pair.deliverAll()
        let thirdIndex = Self.index(at: 4, of: try #require(Self.captureFromA(pair)))
        #expect(!Self.holds(pair, atA: false, firstIndex))
        #expect(pair.deliver(alsoFirst).isDropped(.unknownIndex))
        #expect(Self.holds(pair, atA: false, secondIndex))
        #expect(Self.holds(pair, atA: false, thirdIndex))

        // Three REJECT_AFTER_TIME periods without a handshake: every key and index goes.
        pair.advance(seconds: 541)
        pair.tick()
        pair.network.removeAll()
        #expect(!Self.holds(pair, atA: false, secondIndex))
        #expect(!Self.holds(pair, atA: false, thirdIndex))
    }

    @Test func supersededAndAbandonedInitiationsLeaveTheIndexTable() throws {
        let pair = try InMemoryPair()
        pair.send(InMemoryPair.ipv4(from: Self.a, to: Self.b), fromA: true)
        let firstIndex = Self.index(at: 4, of: try #require(pair.network.first { $0.bytes[0] == 1 }))
        pair.network.removeAll()
        #expect(Self.holds(pair, atA: true, firstIndex))
        pair.advance(seconds: 6)
        pair.tick()  // B is unreachable: a retransmission with a fresh index replaces the first
        let retransmitted = Self.index(at: 4, of: try #require(pair.network.first { $0.bytes[0] == 1 }))
        pair.network.removeAll()
        #expect(!Self.holds(pair, atA: true, firstIndex))
        #expect(Self.holds(pair, atA: true, retransmitted))

        var last = retransmitted
        for _ in 0..<(100 * 10) {  // past REKEY_ATTEMPT_TIME in 100 ms steps
            pair.advance(seconds: 0.1)
            pair.tick()
            if let i = pair.network.first(where: { $0.bytes[0] == 1 }) { last = Self.index(at: 4, of: i) }
            pair.network.removeAll()
        }
        #expect(last != retransmitted)
        #expect(!Self.holds(pair, atA: true, last))
    }
}

extension ReceiveResult {
    func isDropped(_ reason: DropReason? = nil) -> Bool {
        if case .dropped(let r) = self { return reason == nil || r == reason }
        return false
    }
}
