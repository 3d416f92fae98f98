import MeshCrypto
import MeshWire
import Relay
import Testing

func relayKey(_ seed: UInt64) -> PrivateKey {
    _ = Sodium.isReady
    var e = SeededEntropy(seed: seed)
    return PrivateKey.generate(using: &e)
}

let nonceA = [UInt8](repeating: 0x11, count: 24)

@Suite struct RelayClientProofTests {
    let server = relayKey(100)
    let node = relayKey(1)

    func proof(node: PrivateKey? = nil, to serverKey: PublicKey? = nil, at t: Int64 = 1_700_000_000) -> (PublicKey, [UInt8], [UInt8]) {
        let n = node ?? self.node
        guard case .clientInfo(let k, let nonce, let sealed) = RelayClientProof.seal(
            nodeKey: n, serverKey: serverKey ?? server.publicKey, unixTime: t, nonce: nonceA)! else { fatalError() }
        return (k, nonce, sealed)
    }

    @Test func validProofOpens() throws {
        let (k, n, s) = proof()
        #expect(k == node.publicKey)
        let info = try RelayClientProof.open(nodeKey: k, nonce: n, sealed: s, serverKey: server, unixTime: 1_700_000_030)
        #expect(info == RelayClientInfo(version: 1, timestamp: 1_700_000_000))
    }

    @Test func survivesTheFrameCodec() throws {
        let frame = RelayClientProof.seal(nodeKey: node, serverKey: server.publicKey, unixTime: 5, nonce: nonceA)!
        var d = RelayFrameDecoder()
        d.append(frame.encoded)
        guard case .clientInfo(let k, let n, let s) = try d.next() else { Issue.record("not ClientInfo"); return }
        _ = try RelayClientProof.open(nodeKey: k, nonce: n, sealed: s, serverKey: server, unixTime: 5)
    }

    @Test func claimingAnotherNodeKeyFails() {
        // Sealed with node 2's private key but claiming node 1's public key.
        let (_, n, s) = proof(node: relayKey(2))
        #expect(throws: RelayProofError.authenticationFailed) {
            try RelayClientProof.open(nodeKey: node.publicKey, nonce: n, sealed: s, serverKey: server, unixTime: 1_700_000_000)
        }
    }

    @Test func sealedToAnotherRelayFails() {
        let (k, n, s) = proof(to: relayKey(101).publicKey)
        #expect(throws: RelayProofError.authenticationFailed) {
            try RelayClientProof.open(nodeKey: k, nonce: n, sealed: s, serverKey: server, unixTime: 1_700_000_000)
        }
    }

    @Test func tamperedBytesFail() {
        let (k, n, s) = proof()
        for i in 0..<s.count {
            var bad = s
            bad[i] ^= 0x01
            #expect(throws: RelayProofError.authenticationFailed) {
                try RelayClientProof.open(nodeKey: k, nonce: n, sealed: bad, serverKey: server, unixTime: 1_700_000_000)
            }
        }
        var badNonce = n
        badNonce[3] ^= 0x80
        #expect(throws: RelayProofError.authenticationFailed) {
            try RelayClientProof.open(nodeKey: k, nonce: badNonce, sealed: s, serverKey: server, unixTime: 1_700_000_000)
        }
        #expect(throws: RelayProofError.authenticationFailed) {
            try RelayClientProof.open(nodeKey: k, nonce: n, sealed: Array(s.dropLast()), serverKey: server, unixTime: 1_700_000_000)
        }
    }

    @Test func staleTimestampsAreRefusedEitherWay() throws {
        let (k, n, s) = proof(at: 1_000)
        #expect(throws: RelayProofError.staleTimestamp(skewSeconds: -61)) {
            try RelayClientProof.open(nodeKey: k, nonce: n, sealed: s, serverKey: server, unixTime: 1_061)
        }
        #expect(throws: RelayProofError.staleTimestamp(skewSeconds: 61)) {
            try RelayClientProof.open(nodeKey: k, nonce: n, sealed: s, serverKey: server, unixTime: 939)
        }
        _ = try RelayClientProof.open(nodeKey: k, nonce: n, sealed: s, serverKey: server, unixTime: 1_060)
        _ = try RelayClientProof.open(nodeKey: k, nonce: n, sealed: s, serverKey: server, unixTime: 940)
        // A configurable skew.
        #expect(throws: RelayProofError.staleTimestamp(skewSeconds: -6)) {
            try RelayClientProof.open(nodeKey: k, nonce: n, sealed: s, serverKey: server, unixTime: 1_006, maxClockSkew: 5)
        }
        // Extreme timestamps do not overflow.
        let (k2, n2, s2) = proof(at: .min)
        #expect(throws: RelayProofError.self) {
            try RelayClientProof.open(nodeKey: k2, nonce: n2, sealed: s2, serverKey: server, unixTime: .max)
        }
    }

    @Test func zeroAndLowOrderNodeKeysAreRefused() {
        let (_, n, s) = proof()
        #expect(throws: RelayProofError.invalidNodeKey) {
            try RelayClientProof.open(nodeKey: PublicKey(bytes: .init()), nonce: n, sealed: s, serverKey: server, unixTime: 1_700_000_000)
        }
        var one = SIMD32<UInt8>()
        one[0] = 1  // the point of order 1
        #expect(throws: RelayProofError.invalidNodeKey) {
            try RelayClientProof.open(nodeKey: PublicKey(bytes: one), nonce: n, sealed: s, serverKey: server, unixTime: 1_700_000_000)
        }
    }

    @Test func malformedInfoIsTyped() {
        let box = Box.seal([1, 2, 3], nonce: nonceA, to: server.publicKey, from: node)!
        #expect(throws: RelayProofError.malformedInfo) {
            try RelayClientProof.open(nodeKey: node.publicKey, nonce: nonceA, sealed: box, serverKey: server, unixTime: 0)
        }
    }

    @Test func serverInfoRoundTrips() {
        let shared = Box.SharedKey(peer: node.publicKey, own: server)!
        let info = RelayServerInfo(clientNonce: nonceA, keepAliveSeconds: 60, maxPacketBytes: 65_504,
                                   queueLimitPackets: 1024, queueLimitBytes: 1 << 20)
        let payload = info.sealedPayload(shared: shared, nonce: [UInt8](repeating: 5, count: 24))
        let clientSide = Box.SharedKey(peer: server.publicKey, own: node)!
        #expect(RelayServerInfo.open(payload: payload, shared: clientSide) == info)
        let other = Box.SharedKey(peer: relayKey(101).publicKey, own: node)!
        #expect(RelayServerInfo.open(payload: payload, shared: other) == nil)
    }
}
