import Disco
import MeshCrypto
import Testing
import MeshBase

@Suite struct DiscoMessageTests {

    @Test func roundTripsEveryMessage() throws {
        _ = Sodium.isReady
        var e = SeededEntropy(seed: 1)
        let key = PrivateKey.generate(using: &e).publicKey
        let txid = DiscoTransactionID(using: &e)
        let v6 = UDPAddress(ip: SIMD16<UInt8>(0xfd, 0x7a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1), port: 41641)
        let messages: [DiscoMessage] = [
            .ping(txid: txid, nodeKey: key, padding: 0),
            .ping(txid: txid, nodeKey: key, padding: 1200),
            .pong(txid: txid, source: UDPAddress(ipv4: 203, 0, 113, 7, port: 5555)),
            .pong(txid: txid, source: v6),
            .callMeMaybe(endpoints: []),
            .callMeMaybe(endpoints: [UDPAddress(ipv4: 198, 51, 100, 1, port: 1), v6]),
        ]
        for m in messages { #expect(try DiscoMessage.decode(m.encoded) == m) }
    }

    @Test func pongCarriesAddressAsMappedIPv6AndBigEndianPort() {
        let txid = DiscoTransactionID(bytes: (0, 0))
        let bytes = DiscoMessage.pong(txid: txid, source: UDPAddress(ipv4: 192, 0, 2, 9, port: 0x1234)).encoded
        #expect(bytes.count == 2 + 12 + 18)
        #expect(Array(bytes[14..<32]) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 9, 0x12, 0x34])
    }

    @Test func rejectsBadInput() {
        #expect(throws: DiscoError.truncated) { try DiscoMessage.decode([1]) }
        #expect(throws: DiscoError.unknownType(9)) { try DiscoMessage.decode([9, 0]) }
        #expect(throws: DiscoError.truncated) { try DiscoMessage.decode([1, 0] + [UInt8](repeating: 0, count: 43)) }
        #expect(throws: DiscoError.truncated) { try DiscoMessage.decode([2, 0] + [UInt8](repeating: 0, count: 29)) }
        #expect(throws: DiscoError.truncated) { try DiscoMessage.decode([3, 0] + [UInt8](repeating: 0, count: 17)) }
        #expect(throws: DiscoError.tooManyEndpoints) { try DiscoMessage.decode([3, 0] + [UInt8](repeating: 0, count: 18 * 65)) }
    }

    @Test func randomBytesNeverCrash() {
        var e = SeededEntropy(seed: 77)
        for _ in 0..<20_000 {
            let n = Int(e.nextUInt32() % 200)
            var b = [UInt8](repeating: 0, count: n)
            b.withUnsafeMutableBytes { e.fill($0) }
            if n > 0 { b[0] = UInt8(e.nextUInt32() % 5) }
            _ = try? DiscoMessage.decode(b)
        }
    }
}

@Suite struct DiscoPacketTests {
    @Test func sealsAndOpensBetweenTwoKeys() throws {
        _ = Sodium.isReady
        var e = SeededEntropy(seed: 2)
        let alice = PrivateKey.generate(using: &e), bob = PrivateKey.generate(using: &e)
        let msg = DiscoMessage.callMeMaybe(endpoints: [UDPAddress(ipv4: 192, 0, 2, 1, port: 41641)])
        let packet = try #require(DiscoPacket.seal(msg, from: alice, to: bob.publicKey, entropy: &e))
        #expect(Array(packet.prefix(6)) == Array("MESHDS".utf8))
        #expect(DiscoPacket.looksLikeDisco(packet))
        #expect(try DiscoPacket.senderKey(packet) == alice.publicKey)
        let opened = try DiscoPacket.open(packet, with: bob)
        #expect(opened.sender == alice.publicKey && opened.message == msg)
        // Someone else cannot open it, and any flipped bit breaks it.
        let eve = PrivateKey.generate(using: &e)
        #expect(throws: DiscoError.cannotOpen) { try DiscoPacket.open(packet, with: eve) }
        for i in stride(from: 38, to: packet.count, by: 7) {
            var bad = packet
            bad[i] ^= 0x40
            #expect(throws: DiscoError.cannotOpen) { try DiscoPacket.open(bad, with: bob) }
        }
        #expect(throws: DiscoError.notDisco) { try DiscoPacket.open(Array(packet.prefix(40)), with: bob) }
    }
}
