import Disco
import MeshCrypto
import Testing
import MeshBase

/// The pieces of the packet format the admission rules rest on.
@Suite struct DiscoAdmissionTests {
    @Test func senderKeyIsReadInPlaceAndJunkIsRefused() throws {
        _ = Sodium.isReady
        var e = SeededEntropy(seed: 5)
        let alice = PrivateKey.generate(using: &e), bob = PrivateKey.generate(using: &e)
        let packet = try #require(DiscoPacket.seal(.callMeMaybe(endpoints: []), from: alice, to: bob.publicKey, entropy: &e))
        #expect(packet.withUnsafeBytes { DiscoPacket.senderKey(in: $0) } == alice.publicKey)
        let short = Array(packet.prefix(77))
        #expect(short.withUnsafeBytes { DiscoPacket.senderKey(in: $0) } == nil)
        var badMagic = packet
        badMagic[5] = 0x54
        #expect(badMagic.withUnsafeBytes { DiscoPacket.senderKey(in: $0) } == nil)
        let huge = Array(packet + [UInt8](repeating: 0, count: DiscoPacket.maxLength))
        #expect(huge.withUnsafeBytes { DiscoPacket.senderKey(in: $0) } == nil)
    }

    @Test func sharedKeyPathInteroperatesWithPerPacketBox() throws {
        _ = Sodium.isReady
        var e = SeededEntropy(seed: 6)
        let alice = PrivateKey.generate(using: &e), bob = PrivateKey.generate(using: &e)
        let msg = DiscoMessage.pong(txid: DiscoTransactionID(using: &e), source: UDPAddress(ipv4: 192, 0, 2, 3, port: 9))
        let ab = try #require(Box.SharedKey(peer: bob.publicKey, own: alice))
        let ba = try #require(Box.SharedKey(peer: alice.publicKey, own: bob))
        let fast = DiscoPacket.seal(msg, sender: alice.publicKey, shared: ab, entropy: &e)
        #expect(fast.count == DiscoPacket.sealedLength(of: msg))
        #expect(try DiscoPacket.open(fast, with: bob).message == msg)
        let slow = try #require(DiscoPacket.seal(msg, from: alice, to: bob.publicKey, entropy: &e))
        #expect(try slow.withUnsafeBytes { try DiscoPacket.open($0, shared: ba) } == msg)
        var bad = slow
        bad[70] ^= 1
        #expect(throws: DiscoError.cannotOpen) { try bad.withUnsafeBytes { try DiscoPacket.open($0, shared: ba) } }
    }

    /// The byte rule: a Pong is smaller than any Ping, and a Ping padded as ours are pays for
    /// a Pong plus a plain Ping back.
    @Test func answersAreNeverLargerThanWhatPaysForThem() {
        let txid = DiscoTransactionID(bytes: (1, 2))
        var e = SeededEntropy(seed: 1)
        let key = PrivateKey.generate(using: &e).publicKey
        let plain = DiscoPacket.sealedLength(of: .ping(txid: txid, nodeKey: key, padding: 0))
        let padded = DiscoPacket.sealedLength(of: .ping(txid: txid, nodeKey: key, padding: DiscoLimits.pingBackPadding))
        let pong = DiscoPacket.sealedLength(of: .pong(txid: txid, source: UDPAddress(ipv4: 192, 0, 2, 1, port: 1)))
        #expect(pong == DiscoLimits.pongLength && plain == DiscoLimits.plainPingLength)
        #expect(pong < plain)
        #expect(padded >= pong + plain && padded == DiscoLimits.pingBackCost)
        let v6 = UDPAddress(ip: SIMD16<UInt8>(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1), port: 7)
        for m: DiscoMessage in [.ping(txid: txid, nodeKey: key, padding: 3), .pong(txid: txid, source: v6),
                                .callMeMaybe(endpoints: [v6, v6])] {
            #expect(m.encodedLength == m.encoded.count)
        }
    }

    @Test func oddAddressesAreNoCandidates() {
        #expect(UDPAddress(ipv4: 203, 0, 113, 1, port: 41641).isUsableCandidate)
        #expect(!UDPAddress(ipv4: 203, 0, 113, 1, port: 0).isUsableCandidate)
        #expect(!UDPAddress(ipv4: 0, 0, 0, 0, port: 1).isUsableCandidate)
        #expect(!UDPAddress(ipv4: 224, 0, 0, 1, port: 1).isUsableCandidate)
        #expect(!UDPAddress(ipv4: 255, 255, 255, 255, port: 1).isUsableCandidate)
        var marker = SIMD16<UInt8>(); marker[0] = 1; marker[9] = 5
        #expect(!UDPAddress(ip: marker, port: 1).isUsableCandidate)
        #expect(UDPAddress(ipv4: 127, 0, 0, 1, port: 22).isLoopback)
    }
}
