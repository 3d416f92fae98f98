import MeshCrypto
import MeshWire
import Testing

@Suite struct RelayFrameTests {
    static func key(_ seed: UInt64) -> PublicKey {
        _ = Sodium.isReady
        var e = SeededEntropy(seed: seed)
        return PrivateKey.generate(using: &e).publicKey
    }

    static let frames: [RelayFrame] = [
        .serverKey(key(1)),
        .clientInfo(nodeKey: key(2), nonce: [UInt8](repeating: 7, count: 24), sealed: [UInt8](repeating: 9, count: 40)),
        .serverInfo(Array("{\"keepAlive\":60}".utf8)),
        .sendPacket(destination: key(3), packet: [1, 0, 0, 0] + [UInt8](repeating: 0xAB, count: 1400)),
        .recvPacket(source: key(4), packet: []),
        .keepAlive,
        .ping([1, 2, 3, 4, 5, 6, 7, 8]),
        .pong([8, 7, 6, 5, 4, 3, 2, 1]),
        .peerGone(key(5), reason: .notHere),
    ]

    @Test func roundTripsThroughAStreamCutAnywhere() throws {
        let stream = Self.frames.flatMap(\.encoded)
        for chunk in [1, 2, 5, 7, 64, 1500, stream.count] {
            var d = RelayFrameDecoder()
            var out: [RelayFrame] = []
            var i = 0
            while i < stream.count {
                d.append(stream[i..<min(i + chunk, stream.count)])
                i += chunk
                while let f = try d.next() { out.append(f) }
            }
            #expect(out == Self.frames, "chunk \(chunk)")
        }
    }

    @Test func headerIsTypeThenBigEndianLength() {
        let f = RelayFrame.ping([0, 0, 0, 0, 0, 0, 0, 1]).encoded
        #expect(Array(f.prefix(5)) == [7, 0, 0, 0, 8])
    }

    @Test func oversizedLengthIsRejectedBeforeBuffering() {
        var d = RelayFrameDecoder()
        d.append([4, 0, 1, 0, 1])  // 65,537 bytes announced
        #expect(throws: RelayFrameError.tooLarge(65_537)) { try d.next() }
    }

    @Test func malformedFramesAreErrors() {
        for bad: [UInt8] in [[99, 0, 0, 0, 0], [1, 0, 0, 0, 3, 1, 2, 3], [7, 0, 0, 0, 2, 1, 2], [9, 0, 0, 0, 1, 0]] {
            var d = RelayFrameDecoder()
            d.append(bad)
            #expect(throws: RelayFrameError.self) { try d.next() }
        }
    }

    @Test func randomStreamsNeverCrash() {
        var e = SeededEntropy(seed: 9)
        for _ in 0..<5_000 {
            var d = RelayFrameDecoder()
            let n = Int(e.nextUInt32() % 300)
            var b = [UInt8](repeating: 0, count: n)
            b.withUnsafeMutableBytes { e.fill($0) }
            if n > 4 { b[1] = 0; b[2] = 0 }  // plausible lengths, so payload decoding is exercised
            d.append(b)
            while true {
                guard let f = try? d.next() else { break }
                _ = f
            }
        }
    }
}

@Suite struct RelayFrameDecoderInPlaceTests {
    let k1 = try! PublicKey(rawBytes: [UInt8](repeating: 1, count: 32))
    let k2 = try! PublicKey(rawBytes: (0..<32).map { UInt8($0) })

    @Test func packetsAreDeliveredInPlaceAndOtherFramesReturned() throws {
        var stream = RelayFrame.recvPacket(source: k1, packet: [1, 2, 3]).encoded
        stream += RelayFrame.keepAlive.encoded
        stream += RelayFrame.recvPacket(source: k2, packet: []).encoded
        stream += RelayFrame.recvPacket(source: k2, packet: [9]).encoded
        var d = RelayFrameDecoder()
        var got: [(PublicKey, [UInt8])] = []
        // Byte by byte: every partial state must wait, not misparse.
        var frames: [RelayFrame] = []
        for b in stream {
            [b].withUnsafeBytes { d.append($0) }
            while let f = try d.next(deliveringPackets: { k, p in
                got.append((k, Array(p)))
                if !p.isEmpty { p[0] = 0xee }  // the receiver may write where the payload is
            }) { frames.append(f) }
        }
        #expect(frames == [.keepAlive])
        #expect(got.map(\.0) == [k1, k2, k2])
        #expect(got.map(\.1) == [[1, 2, 3], [], [9]])
    }

    @Test func truncatedAndOversizedPacketsAreErrors() {
        var d = RelayFrameDecoder()
        ([5, 0, 0, 0, 31] as [UInt8]).withUnsafeBytes { d.append($0) }
        [UInt8](repeating: 0, count: 31).withUnsafeBytes { d.append($0) }
        #expect(throws: RelayFrameError.truncated) { _ = try d.next(deliveringPackets: { _, _ in }) }
        var e = RelayFrameDecoder()
        ([5, 0x7f, 0xff, 0xff, 0xff] as [UInt8]).withUnsafeBytes { e.append($0) }
        #expect(throws: RelayFrameError.tooLarge(0x7fff_ffff)) { _ = try e.next(deliveringPackets: { _, _ in }) }
    }
}
