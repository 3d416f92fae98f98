import MeshWire
import Testing

/// RFC 5769 test vectors, transcribed from the RFC. Their FINGERPRINT and MESSAGE-INTEGRITY
/// verifying below is the check that the transcription is right.
enum RFC5769 {
    static let password = Array("VOkJxbRl1RmTxUk/WvJxBt".utf8)
    static let transactionID = stunUnhex("b7e7a701 bc34d686 fa87dfae")

    /// 2.1 Sample Request.
    static let request = stunUnhex("""
        00 01 00 58  21 12 a4 42  b7 e7 a7 01  bc 34 d6 86  fa 87 df ae
        80 22 00 10  53 54 55 4e  20 74 65 73  74 20 63 6c  69 65 6e 74
        00 24 00 04  6e 00 01 ff
        80 29 00 08  93 2f f9 b1  51 26 3b 36
        00 06 00 09  65 76 74 6a  3a 68 36 76  59 20 20 20
        00 08 00 14  9a ea a7 0c  bf d8 cb 56  78 1e f2 b5  b2 d3 f2 49  c1 b5 71 a2
        80 28 00 04  e5 7a 3b cf
        """)

    /// 2.2 Sample IPv4 Response.
    static let ipv4Response = stunUnhex("""
        01 01 00 3c  21 12 a4 42  b7 e7 a7 01  bc 34 d6 86  fa 87 df ae
        80 22 00 0b  74 65 73 74  20 76 65 63  74 6f 72 20
        00 20 00 08  00 01 a1 47  e1 12 a6 43
        00 08 00 14  2b 91 f5 99  fd 9e 90 c3  8c 74 89 f9  2a f9 ba 53  f0 6b e7 d7
        80 28 00 04  c0 7d 4c 96
        """)

    /// 2.3 Sample IPv6 Response.
    static let ipv6Response = stunUnhex("""
        01 01 00 48  21 12 a4 42  b7 e7 a7 01  bc 34 d6 86  fa 87 df ae
        80 22 00 0b  74 65 73 74  20 76 65 63  74 6f 72 20
        00 20 00 14  00 02 a1 47  01 13 a9 fa  a5 d3 f1 79  bc 25 f4 b5  be d2 b9 d9
        00 08 00 14  a3 82 95 4e  4b e6 7b f1  17 84 c9 7c  82 92 c2 75  bf e3 ed 41
        80 28 00 04  c8 fb 0b 4c
        """)
}

func stunTID(_ seed: UInt8) -> STUNTransactionID {
    STUNTransactionID((0..<12).map { UInt8(truncatingIfNeeded: Int(seed) &* 31 &+ $0) })!
}

/// Attributes without MESSAGE-INTEGRITY and FINGERPRINT, which `encode` recomputes.
func stunPayload(_ m: STUNMessage) -> [STUNAttribute] {
    m.attributes.filter {
        switch $0 {
        case .messageIntegrity, .fingerprint: false
        default: true
        }
    }
}

@Suite struct STUNRFC5769Tests {
    @Test func sampleRequest() throws {
        let m = try STUNMessage.decode(RFC5769.request)
        #expect(m.type == .bindingRequest)
        #expect(m.type.method == 0x001 && m.type.messageClass == .request)
        #expect(m.transactionID.bytes == RFC5769.transactionID)
        #expect(m.attributes == [
            .software("STUN test client"),
            .unknown(type: 0x0024, value: stunUnhex("6e0001ff")),            // PRIORITY
            .unknown(type: 0x8029, value: stunUnhex("932ff9b151263b36")),    // ICE-CONTROLLED
            .username("evtj:h6vY"),
            .messageIntegrity(stunUnhex("9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2")),
            .fingerprint(0xE57A_3BCF),
        ])
        #expect(m.username == "evtj:h6vY")
        #expect(m.software == "STUN test client")
        #expect(m.hasFingerprint)
        #expect(try STUNMessage.verifyMessageIntegrity(RFC5769.request, key: RFC5769.password))
        #expect(try !STUNMessage.verifyMessageIntegrity(RFC5769.request, key: Array("wrong".utf8)))
        // The RFC pads USERNAME with spaces (0x20); with that, encoding reproduces every byte,
        // including a freshly computed MESSAGE-INTEGRITY and FINGERPRINT.
        #expect(stunHex(m.encode(fingerprint: true, integrityKey: RFC5769.password, padding: 0x20))
                == stunHex(RFC5769.request))
        #expect(STUNMessage.looksLikeSTUN(RFC5769.request))
    }

    @Test func sampleIPv4Response() throws {
        let m = try STUNMessage.decode(RFC5769.ipv4Response)
        #expect(m.type == .bindingSuccess)
        #expect(m.transactionID.bytes == RFC5769.transactionID)
        let mapped = try #require(m.xorMappedAddress)
        #expect(mapped.ip == [192, 0, 2, 1])
        #expect(mapped.port == 32853)
        #expect(mapped.isIPv4)
        #expect(mapped.description == "192.0.2.1:32853")
        #expect(m.software == "test vector")
        #expect(m.attributes == [
            .software("test vector"),
            .xorMappedAddress(STUNAddress(ip: [192, 0, 2, 1], port: 32853)!),
            .messageIntegrity(stunUnhex("2b91f599fd9e90c38c7489f92af9ba53f06be7d7")),
            .fingerprint(0xC07D_4C96),
        ])
        #expect(try STUNMessage.verifyMessageIntegrity(RFC5769.ipv4Response, key: RFC5769.password))
        #expect(stunHex(m.encode(fingerprint: true, integrityKey: RFC5769.password, padding: 0x20))
                == stunHex(RFC5769.ipv4Response))
    }

    @Test func sampleIPv6Response() throws {
        let m = try STUNMessage.decode(RFC5769.ipv6Response)
        #expect(m.type == .bindingSuccess)
        #expect(m.transactionID.bytes == RFC5769.transactionID)
        let mapped = try #require(m.xorMappedAddress)
        #expect(mapped.ip == stunUnhex("20010db8 12345678 00112233 44556677"))
        #expect(mapped.port == 32853)
        #expect(!mapped.isIPv4)
        #expect(mapped.description == "[2001:db8:1234:5678:11:2233:4455:6677]:32853")
        #expect(m.software == "test vector")
        #expect(m.attributes.count == 4)
        #expect(m.attributes[2] == .messageIntegrity(stunUnhex("a382954e4be67bf11784c97c8292c275bfe3ed41")))
        #expect(m.attributes[3] == .fingerprint(0xC8FB_0B4C))
        #expect(try STUNMessage.verifyMessageIntegrity(RFC5769.ipv6Response, key: RFC5769.password))
        #expect(stunHex(m.encode(fingerprint: true, integrityKey: RFC5769.password, padding: 0x20))
                == stunHex(RFC5769.ipv6Response))
    }

    /// Any single flipped bit in the vectors is caught: by FINGERPRINT or the header checks, or
    /// (a flip in FINGERPRINT's own type code) the FINGERPRINT is gone, since an unknown
    /// attribute after MESSAGE-INTEGRITY is ignored; never accepted as the same message.
    @Test func everyBitFlipIsRejected() throws {
        for vector in [RFC5769.request, RFC5769.ipv4Response, RFC5769.ipv6Response] {
            let original = try STUNMessage.decode(vector)
            var lostFingerprint = 0
            for bit in 0..<(vector.count * 8) {
                var bytes = vector
                bytes[bit / 8] ^= 1 << UInt8(bit % 8)
                guard let m = try? STUNMessage.decode(bytes) else { continue }
                #expect(!m.hasFingerprint && m != original, "bit \(bit) accepted: \(m)")
                #expect(bit / 8 >= vector.count - 8 && bit / 8 < vector.count - 6, "bit \(bit) is not in FINGERPRINT's type")
                lostFingerprint += 1
            }
            #expect(lostFingerprint <= 16)
        }
    }

    /// MESSAGE-INTEGRITY over a tampered body (FINGERPRINT recomputed so it decodes) fails.
    @Test func tamperedBodyFailsIntegrity() throws {
        var m = try STUNMessage.decode(RFC5769.request)
        m.attributes[0] = .software("STUN test clienT")
        // Re-encode without a key but keep the old MAC: splice the old MI in by hand.
        var bytes = m.encode(fingerprint: false, padding: 0x20)
        let oldMAC = stunUnhex("9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2")
        bytes += [0x00, 0x08, 0x00, 0x14] + oldMAC
        bytes[3] = UInt8(bytes.count - 20)
        #expect(try !STUNMessage.verifyMessageIntegrity(bytes, key: RFC5769.password))
        #expect(try STUNMessage.decode(bytes).username == "evtj:h6vY")
    }
}

@Suite struct STUNCodecTests {
    @Test func messageTypeBitsInterleave() {
        #expect(STUNMessageType.bindingRequest.rawValue == 0x0001)
        #expect(STUNMessageType.bindingIndication.rawValue == 0x0011)
        #expect(STUNMessageType.bindingSuccess.rawValue == 0x0101)
        #expect(STUNMessageType.bindingError.rawValue == 0x0111)
        #expect(STUNMessageType(method: 0x0FFF, messageClass: .request).rawValue == 0x3EEF)
        #expect(STUNMessageType(method: 0x0000, messageClass: .errorResponse).rawValue == 0x0110)
        for raw in UInt16(0)...0x3FFF {
            #expect(STUNMessageType(rawValue: raw)?.rawValue == raw)
        }
        #expect(STUNMessageType(rawValue: 0x4001) == nil)
        #expect(STUNMessageType(rawValue: 0x8001) == nil)
    }

    @Test func bindingRequestEncoding() {
        let tid = stunTID(1)
        let plain = STUNMessage.bindingRequest(transactionID: tid).encode(fingerprint: false)
        #expect(plain == [0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42] + tid.bytes)
        let withFP = STUNMessage.bindingRequest(transactionID: tid).encode()
        #expect(withFP.count == 28)
        #expect(withFP[2] == 0 && withFP[3] == 8)
        #expect(Array(withFP[20..<24]) == [0x80, 0x28, 0x00, 0x04])
        let change = STUNMessage.bindingRequest(transactionID: tid, changePort: true).encode(fingerprint: false)
        #expect(Array(change[20...]) == [0x00, 0x03, 0x00, 0x04, 0, 0, 0, 0x02])
        let both = STUNMessage.bindingRequest(transactionID: tid, changeIP: true, changePort: true).encode(fingerprint: false)
        #expect(Array(both[24...]) == [0, 0, 0, 0x06])
    }

    @Test func roundTripsEveryAttributeKind() throws {
        let v4 = STUNAddress(ip: [203, 0, 113, 7], port: 3478)!
        let v6 = STUNAddress(ip: stunUnhex("20010db8000000000000000000000001"), port: 65535)!
        let all: [STUNAttribute] = [
            .mappedAddress(v4), .mappedAddress(v6),
            .xorMappedAddress(v4), .xorMappedAddress(v6),
            .username("ü:ser"), .software("meshcoord"), .software(""), .software("abcde"),
            .errorCode(code: 420, reason: "Unknown Attribute"), .errorCode(code: 300, reason: ""),
            .errorCode(code: 699, reason: "x"),
            .changeRequest(changeIP: false, changePort: false), .changeRequest(changeIP: true, changePort: false),
            .changeRequest(changeIP: false, changePort: true), .changeRequest(changeIP: true, changePort: true),
            .responseOrigin(v4), .otherAddress(v6),
            .unknown(type: 0x7FFF, value: []), .unknown(type: 0xC001, value: [1, 2, 3]),
        ]
        let key = Array("secret".utf8)
        for (i, type) in [STUNMessageType.bindingRequest, .bindingSuccess, .bindingError, .bindingIndication,
                          STUNMessageType(method: 0xABC, messageClass: .request)].enumerated() {
            let m = STUNMessage(type: type, transactionID: stunTID(UInt8(i)), attributes: all)
            for fingerprint in [false, true] {
                for integrityKey in [nil, key] {
                    let bytes = m.encode(fingerprint: fingerprint, integrityKey: integrityKey)
                    #expect(bytes.count % 4 == 0)
                    #expect(STUNMessage.looksLikeSTUN(bytes))
                    let back = try STUNMessage.decode(bytes)
                    #expect(back.type == type)
                    #expect(back.transactionID == m.transactionID)
                    #expect(stunPayload(back) == all)
                    #expect(back.hasFingerprint == fingerprint)
                    #expect(try STUNMessage.verifyMessageIntegrity(bytes, key: key) == (integrityKey != nil))
                    // Decoding then encoding again reproduces the bytes.
                    #expect(back.encode(fingerprint: fingerprint, integrityKey: integrityKey) == bytes)
                }
            }
        }
    }

    @Test func builders() throws {
        let tid = stunTID(9)
        let mapped = STUNAddress(ip: [127, 0, 0, 1], port: 40000)!
        let origin = STUNAddress(ip: [127, 0, 0, 1], port: 3478)!
        let other = STUNAddress(ip: [127, 0, 0, 1], port: 3479)!
        let bytes = STUNMessage.bindingSuccess(transactionID: tid, mapped: mapped, software: "meshcoord",
                                               responseOrigin: origin, otherAddress: other).encode()
        let m = try STUNMessage.decode(bytes)
        #expect(m.type == .bindingSuccess)
        #expect(m.xorMappedAddress == mapped)
        #expect(m.reflexiveAddress == mapped)
        #expect(m.mappedAddress == nil)
        #expect(m.responseOrigin == origin)
        #expect(m.otherAddress == other)
        #expect(m.software == "meshcoord")
        let tuple = try #require(STUNMessage.bindingSuccess(transactionID: tid, mapped: (ip: [1, 2, 3, 4], port: 5)))
        #expect(tuple.xorMappedAddress == STUNAddress(ip: [1, 2, 3, 4], port: 5))
        #expect(STUNMessage.bindingSuccess(transactionID: tid, mapped: (ip: [1, 2, 3], port: 5)) == nil)
        let error = try STUNMessage.decode(STUNMessage.bindingError(transactionID: tid, code: 420, reason: "Unknown").encode())
        #expect(error.type == .bindingError)
        #expect(error.errorCode?.code == 420 && error.errorCode?.reason == "Unknown")
        let change = try STUNMessage.decode(STUNMessage.bindingRequest(transactionID: tid, changePort: true).encode())
        #expect(change.changeRequest?.changePort == true && change.changeRequest?.changeIP == false)
        #expect(STUNTransactionID([1, 2, 3]) == nil)
        #expect(STUNAddress(ip: [1, 2, 3, 4, 5], port: 1) == nil)
    }

    @Test func looksLikeSTUN() {
        let good = STUNMessage.bindingRequest(transactionID: stunTID(3)).encode()
        #expect(STUNMessage.looksLikeSTUN(good))
        #expect(STUNMessage.looksLikeSTUN(good[...]))
        #expect(!STUNMessage.looksLikeSTUN(Array(good.prefix(19))))
        var b = good; b[0] |= 0x40
        #expect(!STUNMessage.looksLikeSTUN(b))
        b = good; b[0] |= 0x80
        #expect(!STUNMessage.looksLikeSTUN(b))
        b = good; b[7] ^= 1
        #expect(!STUNMessage.looksLikeSTUN(b))
        // A WireGuard initiation header and the disco magic are not STUN.
        #expect(!STUNMessage.looksLikeSTUN([1, 0, 0, 0] + [UInt8](repeating: 0, count: 144)))
        #expect(!STUNMessage.looksLikeSTUN(Array("MESHDS".utf8) + [UInt8](repeating: 0, count: 40)))
        // Slices with a non-zero start index work too.
        let padded = [0xFF] + good
        #expect(STUNMessage.looksLikeSTUN(padded[1...]))
        #expect((try? STUNMessage.decode(padded[1...])) != nil)
    }

    @Test func typedDecodeErrors() {
        let tid = stunTID(4)
        let request = STUNMessage.bindingRequest(transactionID: tid).encode(fingerprint: false)
        func expectError(_ bytes: [UInt8], _ expected: STUNDecodeError, sourceLocation: SourceLocation = #_sourceLocation) {
            do {
                _ = try STUNMessage.decode(bytes)
                Issue.record("decoded, expected \(expected)", sourceLocation: sourceLocation)
            } catch {
                #expect(error == expected, sourceLocation: sourceLocation)
            }
        }
        expectError([], .tooShort(count: 0))
        expectError(Array(request.prefix(19)), .tooShort(count: 19))
        var b = request; b[0] = 0xC0
        expectError(b, .notSTUN)
        b = request; b[4] = 0x22
        expectError(b, .wrongMagicCookie(0x2212_A442))
        // Header says 4 bytes of attributes, none follow.
        b = request; b[3] = 4
        expectError(b, .badLength(declared: 4, actual: 0))
        // Length not a multiple of 4.
        b = request + [0, 0]; b[3] = 2
        expectError(b, .badLength(declared: 2, actual: 2))
        // Extra bytes beyond the declared length.
        expectError(request + [0, 0, 0, 0], .badLength(declared: 0, actual: 4))
        // Attribute declares 8 bytes of value, only 4 present.
        b = request + [0x80, 0x22, 0x00, 0x08, 0x61, 0x62, 0x63, 0x64]; b[3] = 8
        expectError(b, .attributeOverrun(type: 0x8022, offset: 20, length: 8))
        // A 2-byte value whose padding is missing: the message length is not a multiple of 4.
        b = request + [0x80, 0x22, 0x00, 0x02, 0x61, 0x62]; b[3] = 6
        expectError(b, .badLength(declared: 6, actual: 6))
        // An attribute claiming 0xFFFF bytes.
        b = request + [0x00, 0x20, 0xFF, 0xFF]; b[3] = 4
        expectError(b, .attributeOverrun(type: 0x0020, offset: 20, length: 0xFFFF))
        // Bad fingerprint.
        var fp = STUNMessage.bindingRequest(transactionID: tid).encode()
        fp[fp.count - 1] ^= 0xFF
        let good = STUNMessage.bindingRequest(transactionID: tid).encode()
        let crc = UInt32(good[24]) << 24 | UInt32(good[25]) << 16 | UInt32(good[26]) << 8 | UInt32(good[27])
        expectError(fp, .badFingerprint(expected: crc, found: crc ^ 0xFF))
        // FINGERPRINT followed by another attribute.
        b = good + [0x80, 0x22, 0x00, 0x00]; b[3] = 12
        expectError(b, .fingerprintNotLast)
        // Malformed known attributes.
        func withAttribute(_ type: UInt16, _ value: [UInt8]) -> [UInt8] {
            let padded = value + [UInt8](repeating: 0, count: (4 - value.count % 4) % 4)
            var out = request + [UInt8(type >> 8), UInt8(type & 0xFF), 0, UInt8(value.count)] + padded
            out[3] = UInt8(out.count - 20)
            return out
        }
        // Truncated known attributes: shorter than their layout.
        expectError(withAttribute(0x0020, [0, 1, 0, 0]), .truncatedAttribute(type: 0x0020, length: 4, needed: 8))
        expectError(withAttribute(0x0001, [0, 2, 0, 0, 1, 2, 3, 4]), .truncatedAttribute(type: 0x0001, length: 8, needed: 20))
        expectError(withAttribute(0x802B, [0, 1]), .truncatedAttribute(type: 0x802B, length: 2, needed: 4))
        expectError(withAttribute(0x0003, [0, 0, 2]), .truncatedAttribute(type: 0x0003, length: 3, needed: 4))
        expectError(withAttribute(0x0008, [UInt8](repeating: 0, count: 16)), .truncatedAttribute(type: 0x0008, length: 16, needed: 20))
        expectError(withAttribute(0x0009, [0, 0, 4]), .truncatedAttribute(type: 0x0009, length: 3, needed: 4))
        expectError(withAttribute(0x8028, [1, 2]), .truncatedAttribute(type: 0x8028, length: 2, needed: 4))
        // Malformed known attributes: too long or bad contents.
        for (type, value) in [(UInt16(0x0020), [0, 1, 0, 0, 1, 2, 3, 4, 5] as [UInt8]), // IPv4 too long
                              (0x802C, [0, 3, 0, 0, 1, 2, 3, 4]),                        // unknown family
                              (0x0003, [0, 0, 0, 2, 0]),                                 // CHANGE-REQUEST of 5 bytes
                              (0x0009, [0, 0, 4, 100]),                                  // number over 99
                              (0x8022, [0xC3, 0x28]),                                    // invalid UTF-8
                              (0x0006, [0xFF])] {
            do {
                _ = try STUNMessage.decode(withAttribute(type, value))
                Issue.record("0x\(String(type, radix: 16)) \(value) decoded")
            } catch {
                guard case .malformedAttribute(let t, _) = error else {
                    Issue.record("expected malformedAttribute for 0x\(String(type, radix: 16)), got \(error)")
                    continue
                }
                #expect(t == type)
            }
        }
    }

    /// RFC 8489 14.5: attributes after MESSAGE-INTEGRITY (other than FINGERPRINT) are ignored.
    @Test func attributesAfterIntegrityAreIgnored() throws {
        let tid = stunTID(5)
        var bytes = STUNMessage(type: .bindingRequest, transactionID: tid, attributes: [.username("u")])
            .encode(fingerprint: false, integrityKey: [1, 2, 3])
        bytes += [0x80, 0x22, 0x00, 0x01, 0x41, 0, 0, 0]
        bytes[3] = UInt8(bytes.count - 20)
        let m = try STUNMessage.decode(bytes)
        #expect(m.software == nil)
        #expect(m.username == "u")
        #expect(try STUNMessage.verifyMessageIntegrity(bytes, key: [1, 2, 3]))
    }

    /// 10,000 seeded random and mutated inputs: decoding never traps; whatever decodes
    /// re-encodes to something that decodes to the same attributes.
    @Test func fuzzDecodeNeverCrashes() throws {
        var rng = STUNTestRNG(seed: 0x5354_554E)
        let seeds: [[UInt8]] = [
            RFC5769.request, RFC5769.ipv4Response, RFC5769.ipv6Response,
            STUNMessage.bindingRequest(transactionID: stunTID(1), changePort: true).encode(),
            STUNMessage.bindingSuccess(transactionID: stunTID(2), mapped: STUNAddress(ip: [10, 1, 2, 3], port: 9)!,
                                       software: "meshcoord", responseOrigin: STUNAddress(ip: [10, 0, 0, 1], port: 3478)!,
                                       otherAddress: STUNAddress(ip: [10, 0, 0, 1], port: 3479)!).encode(),
            STUNMessage.bindingError(transactionID: stunTID(3), code: 420, reason: "nope").encode(fingerprint: false),
        ]
        var decoded = 0
        var errors: [String: Int] = [:]
        for i in 0..<10_000 {
            var input: [UInt8]
            switch i % 5 {
            case 0:
                input = rng.bytes(Int.random(in: 0...120, using: &rng))
            case 1:
                // Random bytes behind a plausible header with a correct length field.
                let bodyLength = Int.random(in: 0...25, using: &rng) * 4
                input = [0x00, 0x01, UInt8(bodyLength >> 8), UInt8(bodyLength & 0xFF)] + STUNMessage.magicCookieBytes
                    + rng.bytes(12 + bodyLength)
            case 2:
                // Plausible attribute headers with random types/lengths.
                var body: [UInt8] = []
                for _ in 0..<Int.random(in: 0...5, using: &rng) {
                    let known: [UInt16] = [0x0001, 0x0003, 0x0006, 0x0008, 0x0009, 0x0020, 0x8022, 0x8028, 0x802B, 0x802C]
                    let type = Bool.random(using: &rng) ? known.randomElement(using: &rng)! : UInt16.random(in: 0...0xFFFF, using: &rng)
                    let length = Int.random(in: 0...24, using: &rng)
                    body += [UInt8(type >> 8), UInt8(type & 0xFF), 0, UInt8(length)] + rng.bytes((length + 3) & ~3)
                }
                input = [0x01, 0x01, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + STUNMessage.magicCookieBytes
                    + rng.bytes(12) + body
            default:
                // Mutations of valid messages: flips, truncation, extension, byte overwrites.
                input = seeds.randomElement(using: &rng)!
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    switch Int.random(in: 0...3, using: &rng) {
                    case 0 where !input.isEmpty:
                        input[Int.random(in: 0..<input.count, using: &rng)] ^= 1 << UInt8.random(in: 0...7, using: &rng)
                    case 1 where !input.isEmpty:
                        input.removeLast(Int.random(in: 0...min(8, input.count), using: &rng))
                    case 2:
                        input += rng.bytes(Int.random(in: 0...8, using: &rng))
                    default:
                        if input.count > 3 { input[Int.random(in: 2...3, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
                    }
                }
            }
            do {
                let m = try STUNMessage.decode(input)
                decoded += 1
                let again = try STUNMessage.decode(m.encode(fingerprint: Bool.random(using: &rng)))
                #expect(stunPayload(again) == stunPayload(m), "input \(stunHex(input))")
                _ = try STUNMessage.verifyMessageIntegrity(input, key: RFC5769.password)
            } catch {
                let name = "\(error)".prefix { $0 != "(" }
                errors[String(name), default: 0] += 1
            }
            _ = STUNMessage.looksLikeSTUN(input)
        }
        // The generator must reach both the success path and several distinct errors.
        #expect(decoded > 100)
        #expect(errors.count >= 6, "errors seen: \(errors)")
    }
}

/// Cross-checks with an implementation no one here wrote: aioice's `aioice.stun` module
/// (Debian package python3-aioice, installed by Packaging/install-deps.sh).
@Suite struct STUNAioiceCodecTests {
    static let missing = "aioice is missing for \(stunPythonPath()): run Packaging/install-deps.sh (Debian package python3-aioice)"

    @Test func ourEncodingsParseInAioice() throws {
        let tid = stunTID(7)
        let v6 = STUNAddress(ip: stunUnhex("20010db8000000000000000000000001"), port: 4242)!
        let messages: [[UInt8]] = [
            STUNMessage.bindingSuccess(transactionID: tid, mapped: STUNAddress(ip: [198, 51, 100, 9], port: 54321)!,
                                       software: "meshcoord").encode(),
            STUNMessage.bindingSuccess(transactionID: tid, mapped: v6, software: "meshcoord",
                                       responseOrigin: STUNAddress(ip: [127, 0, 0, 1], port: 3478)!,
                                       otherAddress: STUNAddress(ip: [127, 0, 0, 1], port: 3479)!).encode(),
            STUNMessage.bindingError(transactionID: tid, code: 420, reason: "Unknown Attribute").encode(),
            STUNMessage(type: .bindingRequest, transactionID: tid,
                        attributes: [.username("a:b"), .changeRequest(changeIP: false, changePort: true)])
                .encode(fingerprint: true, integrityKey: Array("pw".utf8)),
        ]
        let lines = try runSTUNPython("""
            import sys
            try:
                from aioice import stun
            except ImportError:
                print("MISSING"); sys.exit(0)
            for line in sys.stdin.read().splitlines():
                m = stun.parse_message(bytes.fromhex(line), integrity_key=b"pw")
                a = m.attributes
                print(m.message_class.name, m.message_method.name, m.transaction_id.hex(),
                      a.get("XOR-MAPPED-ADDRESS"), a.get("SOFTWARE"), a.get("RESPONSE-ORIGIN"),
                      a.get("OTHER-ADDRESS"), a.get("ERROR-CODE"), a.get("USERNAME"), a.get("CHANGE-REQUEST"),
                      "FINGERPRINT" in a, sep="|")
            """, lines: messages.map { stunHex($0) })
        if lines.first == "MISSING" { throw STUNPythonFailure(description: Self.missing) }
        try #require(lines.count == messages.count)
        let t = stunHex(tid.bytes)
        #expect(lines[0] == "RESPONSE|BINDING|\(t)|('198.51.100.9', 54321)|meshcoord|None|None|None|None|None|True")
        #expect(lines[1] == "RESPONSE|BINDING|\(t)|('2001:db8::1', 4242)|meshcoord|('127.0.0.1', 3478)|('127.0.0.1', 3479)|None|None|None|True")
        #expect(lines[2] == "ERROR|BINDING|\(t)|None|None|None|None|(420, 'Unknown Attribute')|None|None|True")
        #expect(lines[3] == "REQUEST|BINDING|\(t)|None|None|None|None|None|a:b|2|True")
    }

    @Test func aioiceEncodingsDecodeHere() throws {
        let lines = try runSTUNPython("""
            import sys
            try:
                from aioice import stun
            except ImportError:
                print("MISSING"); sys.exit(0)
            from collections import OrderedDict
            tid = bytes(range(12))
            for addr in [("192.0.2.77", 1234), ("2001:db8:1234:5678:11:2233:4455:6677", 32853)]:
                m = stun.Message(stun.Method.BINDING, stun.Class.RESPONSE, tid)
                m.attributes["XOR-MAPPED-ADDRESS"] = addr
                m.attributes["MAPPED-ADDRESS"] = addr
                m.attributes["SOFTWARE"] = "aioice"
                m.add_message_integrity(b"key")
                print(bytes(m).hex())
            """)
        if lines.first == "MISSING" { throw STUNPythonFailure(description: Self.missing) }
        try #require(lines.count == 2)
        let expected: [(ip: [UInt8], port: UInt16)] = [([192, 0, 2, 77], 1234),
                                                      (stunUnhex("20010db8123456780011223344556677"), 32853)]
        for (line, (ip, port)) in zip(lines, expected) {
            let bytes = stunUnhex(line)
            let m = try STUNMessage.decode(bytes)
            #expect(m.type == .bindingSuccess)
            #expect(m.transactionID.bytes == Array(0..<12))
            #expect(m.xorMappedAddress == STUNAddress(ip: ip, port: port))
            #expect(m.mappedAddress == STUNAddress(ip: ip, port: port))
            #expect(m.software == "aioice")
            #expect(m.hasFingerprint)
            #expect(try STUNMessage.verifyMessageIntegrity(bytes, key: Array("key".utf8)))
        }
    }
}
