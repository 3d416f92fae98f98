import Foundation
import MeshCrypto
import MeshWire
import Testing

@Suite struct SealedEnvelopeTests {
    let node: PrivateKey
    let coord: PrivateKey

    init() {
        _ = Sodium.isReady
        var r = SeededEntropy(seed: 1)
        node = PrivateKey.generate(using: &r)
        coord = PrivateKey.generate(using: &r)
    }

    static func bytes(_ n: Int, _ seed: UInt8) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: Int($0) * 31 + Int(seed)) } }

    @Test func boxMatchesPrecomputedKey() throws {
        let nonce = Self.bytes(24, 1)
        let msg = Array("hello coordinator".utf8)
        let sealed = try #require(Box.seal(msg, nonce: nonce, to: coord.publicKey, from: node))
        #expect(sealed.count == msg.count + Box.tagLength)
        #expect(Box.open(sealed, nonce: nonce, from: node.publicKey, to: coord) == msg)
        let shared = try #require(Box.SharedKey(peer: node.publicKey, own: coord))
        #expect(shared.open(sealed, nonce: nonce) == msg)
        #expect(shared.seal(msg, nonce: nonce) == sealed)
        var bad = sealed
        bad[5] ^= 1
        #expect(Box.open(bad, nonce: nonce, from: node.publicKey, to: coord) == nil)
        #expect(Box.open(sealed, nonce: Self.bytes(24, 2), from: node.publicKey, to: coord) == nil)
        // Low-order (all-zero) peer key is refused.
        #expect(Box.SharedKey(peer: PublicKey(bytes: SIMD32()), own: coord) == nil)
    }

    func sealedRequest(_ body: MapRequest, ts: Int64, rid: [UInt8] = bytes(16, 9), to key: PublicKey? = nil) throws -> [UInt8] {
        try ControlSeal.sealRequest(body, nodeKey: node, coordinatorKey: key ?? coord.publicKey, nowMillis: ts,
                                    requestID: rid, nonce: Self.bytes(24, UInt8(truncatingIfNeeded: ts)))
    }

    @Test func requestRoundTrip() throws {
        let body = MapRequest(sinceVersion: 3, endpoints: ["192.0.2.1:1"])
        let wire = try sealedRequest(body, ts: 1_000_000)
        let obj = try JSONSerialization.jsonObject(with: Data(wire)) as! [String: String]
        #expect(Set(obj.keys) == ["nodeKey", "nonce", "box"])
        #expect(obj["nodeKey"] == node.publicKey.base64)
        let env = try ControlSeal.parseEnvelope(wire)
        let shared = try #require(Box.SharedKey(peer: env.nodeKey, own: coord))
        let opened = try ControlSeal.openRequest(nodeKey: env.nodeKey, nonce: env.nonce, box: env.box, sharedKey: shared,
                                                 nowMillis: 1_030_000)
        #expect(opened.requestID == Self.bytes(16, 9))
        #expect(try opened.body(as: MapRequest.self) == body)
        // Reply goes back, bound to the request id.
        let reply = try ControlSeal.sealReply(MapResponse.keepAlive(version: 4), requestID: opened.requestID, sharedKey: shared,
                                              nowMillis: 1_030_001, nonce: Self.bytes(24, 77))
        let back = try ControlSeal.openReply(reply, as: MapResponse.self, nodeKey: node, coordinatorKey: coord.publicKey,
                                             requestID: Self.bytes(16, 9))
        #expect(back == .keepAlive(version: 4))
        #expect(throws: SealError.self) {
            try ControlSeal.openReply(reply, as: MapResponse.self, nodeKey: node, coordinatorKey: coord.publicKey,
                                      requestID: Self.bytes(16, 10))
        }
    }

    @Test func staleAndFutureRequestsRefused() throws {
        for (ts, now) in [(Int64(0), Int64(61_000)), (Int64(200_000), Int64(100_000))] {
            let wire = try sealedRequest(MapRequest(), ts: ts)
            let env = try ControlSeal.parseEnvelope(wire)
            let shared = try #require(Box.SharedKey(peer: env.nodeKey, own: coord))
            do {
                _ = try ControlSeal.openRequest(nodeKey: env.nodeKey, nonce: env.nonce, box: env.box, sharedKey: shared, nowMillis: now)
                Issue.record("stale request accepted")
            } catch let e as SealError {
                #expect(e.code == .staleRequest)
                #expect(e.message.contains("clock"))
            }
        }
    }

    /// Finding: `ts` near Int64.min or Int64.max trapped in the skew subtraction (a remote crash of
    /// the coordinator with no credentials). Every extreme must be refused as stale, never trap.
    @Test(arguments: [Int64.min, .min + 1, -1, .max, .max - 1, 1 << 62])
    func extremeTimestampsAreStaleNotFatal(ts: Int64) throws {
        for now in [Int64(1_700_000_000_000), 0, .max, .min] where now.absoluteDifference(from: ts) > 60_000 {
            let wire = try sealedRequest(MapRequest(), ts: ts)
            let env = try ControlSeal.parseEnvelope(wire)
            let shared = try #require(Box.SharedKey(peer: env.nodeKey, own: coord))
            #expect(throws: SealError.self) {
                try ControlSeal.openRequest(nodeKey: env.nodeKey, nonce: env.nonce, box: env.box, sharedKey: shared, nowMillis: now)
            }
        }
    }

    @Test func replayGuardToleratesExtremeTimestamps() {
        var g = ReplayGuard(windowMillis: 60_000)
        let key = coord.publicKey
        #expect(g.check(nodeKey: key, requestID: Self.bytes(16, 1), timestampMillis: .max, nowMillis: .max - 5) == .fresh)
        #expect(g.check(nodeKey: key, requestID: Self.bytes(16, 1), timestampMillis: .max, nowMillis: .max - 4) == .replayed)
        #expect(g.check(nodeKey: key, requestID: Self.bytes(16, 2), timestampMillis: .min, nowMillis: .min) == .fresh)
    }

    @Test func wrongKeyAndTamperingRefused() throws {
        var r = SeededEntropy(seed: 5)
        let other = PrivateKey.generate(using: &r)
        let wire = try sealedRequest(MapRequest(), ts: 10, to: other.publicKey)
        let env = try ControlSeal.parseEnvelope(wire)
        let shared = try #require(Box.SharedKey(peer: env.nodeKey, own: coord))
        #expect(throws: SealError(.badSeal, "box does not open: not sealed from this node key to this coordinator's key")) {
            try ControlSeal.openRequest(nodeKey: env.nodeKey, nonce: env.nonce, box: env.box, sharedKey: shared, nowMillis: 10)
        }
        // A nodeKey swapped for another key: the box no longer opens.
        var obj = try JSONSerialization.jsonObject(with: Data(try sealedRequest(MapRequest(), ts: 10))) as! [String: String]
        obj["nodeKey"] = other.publicKey.base64
        let swapped = try ControlSeal.parseEnvelope(Array(JSONSerialization.data(withJSONObject: obj)))
        let shared2 = try #require(Box.SharedKey(peer: swapped.nodeKey, own: coord))
        #expect(throws: SealError.self) {
            try ControlSeal.openRequest(nodeKey: swapped.nodeKey, nonce: swapped.nonce, box: swapped.box, sharedKey: shared2, nowMillis: 10)
        }
    }

    @Test func envelopeParseErrors() {
        func code(_ text: String) -> ErrorCode? {
            do { _ = try ControlSeal.parseEnvelope(Array(text.utf8)); return nil } catch let e as SealError { return e.code } catch { return nil }
        }
        #expect(code("not json") == .malformedJSON)
        #expect(code("{") == .malformedJSON)
        #expect(code("[]") == .badEnvelope)
        #expect(code(#"{"hostname":"x"}"#) == .badEnvelope)
        #expect(code(#"{"nodeKey":"xx","nonce":"","box":""}"#) == .badEnvelope)
        let key = String(repeating: "A", count: 43) + "="
        #expect(code(#"{"nodeKey":"\#(key)","nonce":"AAAA","box":"AAAAAAAAAAAAAAAAAAAAAA=="}"#) == .badEnvelope)
    }

    @Test func replayGuard() {
        var g = ReplayGuard(windowMillis: 60_000)
        let k = node.publicKey
        let rid = Self.bytes(16, 3)
        #expect(g.check(nodeKey: k, requestID: rid, timestampMillis: 1000, nowMillis: 1000) == .fresh)
        #expect(g.check(nodeKey: k, requestID: rid, timestampMillis: 1000, nowMillis: 2000) == .replayed)
        // Same id from another node key is a different request.
        #expect(g.check(nodeKey: coord.publicKey, requestID: rid, timestampMillis: 1000, nowMillis: 2000) == .fresh)
        #expect(g.check(nodeKey: k, requestID: Self.bytes(16, 4), timestampMillis: 1000, nowMillis: 2000) == .fresh)
        // Entries are forgotten once a replay would be stale anyway.
        #expect(g.check(nodeKey: k, requestID: Self.bytes(16, 5), timestampMillis: 200_000, nowMillis: 200_000) == .fresh)
        #expect(g.count == 1)
    }
}
