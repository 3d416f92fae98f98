import MeshCrypto
import MeshWire
import Testing

@Suite struct JoinTokenTests {
    static func token(_ url: String = "http://coord.example.com:8080") -> JoinToken {
        var r = SeededEntropy(seed: 3)
        let key = PrivateKey.generate(using: &r).publicKey
        return JoinToken(coordinatorURL: url, coordinatorKey: key, secret: (0..<32).map { UInt8($0 * 7 & 0xFF) })
    }

    @Test func roundTrip() throws {
        for url in ["http://coord.example.com:8080", "https://[2001:db8::1]:443/mesh", "http://127.0.0.1:1"] {
            let t = Self.token(url)
            let s = t.encoded
            #expect(s.hasPrefix("mesh1_"))
            #expect(s.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }, "copy-pasteable: \(s)")
            let back = try JoinToken(parsing: s)
            #expect(back == t)
            #expect(back.authSecret == t.authSecret)
        }
    }

    @Test func whitespaceFromLineWrapsIsIgnored() throws {
        let s = Self.token().encoded
        let wrapped = "  " + s.prefix(30) + "\n" + s.dropFirst(30).prefix(20) + " \r\n" + s.dropFirst(50) + "\n"
        #expect(try JoinToken(parsing: String(wrapped)) == Self.token())
    }

    @Test func descriptionHidesTheSecret() {
        let t = Self.token()
        #expect(!t.description.contains(t.authSecret))
    }

    static func error(_ s: String) -> JoinToken.ParseError? {
        do { _ = try JoinToken(parsing: s); return nil } catch { return error as? JoinToken.ParseError }
    }

    @Test func clearErrors() {
        let s = Self.token().encoded
        #expect(Self.error("") == .empty)
        #expect(Self.error("hello") == .wrongPrefix)
        #expect(Self.error("tskey-auth-abc") == .wrongPrefix)
        #expect(Self.error("mesh2_" + s.dropFirst(6)) == .unsupportedVersion("mesh2_"))
        #expect(Self.error(s + "!") == .badCharacters)
        #expect(Self.error(String(s.prefix(40))) == .tooShort)
        #expect(Self.error(String(s.dropLast(3))) == .checksumMismatch)
        // One character changed in the middle.
        var chars = Array(s)
        chars[30] = chars[30] == "A" ? "B" : "A"
        #expect(Self.error(String(chars)) == .checksumMismatch)
        #expect(Self.error(Self.token("ftp://x.example").encoded) == .badURL("ftp://x.example"))
        for e in [JoinToken.ParseError.empty, .wrongPrefix, .tooShort, .checksumMismatch, .badCharacters] {
            #expect(e.description.count > 15)
        }
        #expect(JoinToken.ParseError.checksumMismatch.description.contains("copy it again"))
    }

    @Test func base64URL() {
        for n in 0..<40 {
            let bytes = (0..<n).map { UInt8(($0 * 37 + n) & 0xFF) }
            let enc = Base64URL.encode(bytes)
            #expect(!enc.contains("=") && !enc.contains("+") && !enc.contains("/"))
            #expect(Base64URL.decode(enc) == bytes)
        }
        #expect(Base64URL.decode("a") == nil)
        #expect(Base64URL.decode("ab+c") == nil)
    }
}
