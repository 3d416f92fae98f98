import CoordinatorServer
import Foundation
import Testing

/// Loading the certificate chain and key meshcoord serves TLS with: what loads, and that every
/// bad file is one clear line naming the file, with nothing of any key in it.
@Suite struct ServerTLSIdentityTests {
    /// The load error's text, or nil when the files loaded.
    static func loadError(_ cert: String, _ key: String) -> String? {
        do {
            _ = try ServerTLSIdentity.load(certificateFile: cert, keyFile: key)
            return nil
        } catch let e as ServerTLSIdentity.LoadError {
            return e.description
        } catch {
            return "not a LoadError: \(error)"
        }
    }

    /// The base64 body lines of every PEM key in the CA's directory (the CA's own included):
    /// none of them may show up in an error text.
    static func keyLines(_ ca: TestCertificateAuthority) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: ca.dir).filter { $0.hasSuffix(".key") || $0.hasSuffix(".enc") }.flatMap { name in
            try String(contentsOfFile: ca.path(name), encoding: .utf8).split(separator: "\n")
                .filter { !$0.hasPrefix("-----") && !$0.contains(":") && $0.count >= 16 }.map(String.init)
        }
    }

    static func expectNoKeyMaterial(_ text: String, _ ca: TestCertificateAuthority) throws {
        #expect(!text.contains("PRIVATE KEY-----"), "\(text)")
        for line in try keyLines(ca) {
            #expect(!text.contains(line), "key material in: \(text)")
            #expect(!text.contains(line.prefix(16)), "key material in: \(text)")
        }
    }

    @Test func aCertificateAndItsKeyLoadWithOpenSSLsSerial() throws {
        let ca = try TestCertificateAuthority()
        defer { ca.remove() }
        let (cert, key) = try ca.issue("coord")
        let identity = try ServerTLSIdentity.load(certificateFile: cert, keyFile: key)
        let serial = try ca.serial(ofCertificate: cert)
        #expect(serial.count >= 2 && identity.serial == serial, "\(identity.serial) vs openssl's \(serial)")
        #expect(identity.chainLength == 1)
        #expect(identity.certificateFile == cert && identity.keyFile == key)
        // -days 2 (openssl may round the start down by a second or so).
        let lifetime = identity.notValidAfter - identity.notValidBefore
        #expect(abs(lifetime - 2 * 86_400) <= 5, "\(lifetime)")
        let now = Int64(Date().timeIntervalSince1970)
        let summary = identity.summary(nowSeconds: now)
        #expect(summary.contains("serial \(serial)") && summary.contains("1 certificate in the chain"), "\(summary)")
        #expect(!summary.contains("EXPIRED") && !summary.contains("NOT YET VALID"), "\(summary)")
    }

    /// Small serials, one whose top bit is set (DER adds a zero byte there) and a 20-byte one
    /// all print exactly as openssl prints them, so the lab and operators can compare.
    @Test func serialsPrintAsOpenSSLPrintsThem() throws {
        let ca = try TestCertificateAuthority()
        defer { ca.remove() }
        for (i, serial) in ["0x05", "0x8000", "0xFF", "0x0102030405060708090A0B0C0D0E0F1011121314"].enumerated() {
            let (cert, key) = try ca.issue("s\(i)", serial: serial)
            let identity = try ServerTLSIdentity.load(certificateFile: cert, keyFile: key)
            let printed = try ca.serial(ofCertificate: cert)
            #expect(identity.serial == printed, "\(serial)")
        }
    }

    /// certbot's fullchain.pem: the leaf, then the intermediates. The leaf must come first.
    @Test func aFullChainLoadsLeafFirstAndNotTheOtherWayRound() throws {
        let ca = try TestCertificateAuthority()
        defer { ca.remove() }
        let (cert, key) = try ca.issue("coord")
        let leaf = try String(contentsOfFile: cert, encoding: .utf8), root = try String(contentsOfFile: ca.caFile, encoding: .utf8)
        try (leaf + root).write(toFile: ca.path("fullchain.pem"), atomically: true, encoding: .utf8)
        let identity = try ServerTLSIdentity.load(certificateFile: ca.path("fullchain.pem"), keyFile: key)
        let serial = try ca.serial(ofCertificate: cert)
        #expect(identity.chainLength == 2 && identity.serial == serial)
        #expect(identity.summary(nowSeconds: Int64(Date().timeIntervalSince1970)).contains("2 certificates in the chain"))

        try (root + leaf).write(toFile: ca.path("backwards.pem"), atomically: true, encoding: .utf8)
        let error = try #require(Self.loadError(ca.path("backwards.pem"), key))
        #expect(error.contains("does not match the first certificate") && error.contains("backwards.pem"), "\(error)")
        try Self.expectNoKeyMaterial(error, ca)
    }

    @Test func theKeyOfAnotherCertificateDoesNotMatch() throws {
        let ca = try TestCertificateAuthority()
        defer { ca.remove() }
        let (cert, _) = try ca.issue("coord")
        let (_, otherKey) = try ca.issue("other")
        let error = try #require(Self.loadError(cert, otherKey))
        #expect(error.contains("TLS key file \(otherKey) does not match the first certificate in \(cert)"), "\(error)")
        try Self.expectNoKeyMaterial(error, ca)
        // The CA's key with the CA's certificate is a pair again: the check is about the pair.
        #expect(Self.loadError(ca.caFile, ca.path("ca.key")) == nil)
    }

    /// Both PEM encryptions openssl writes (PKCS#8 "ENCRYPTED PRIVATE KEY" and the traditional
    /// Proc-Type header) are refused with the reason, and nothing asks for a passphrase.
    @Test func anEncryptedKeyIsRefusedWithTheReason() throws {
        let ca = try TestCertificateAuthority()
        defer { ca.remove() }
        let (cert, _) = try ca.issue("coord")
        try ca.run("openssl pkey -in coord.key -aes256 -passout pass:not-a-secret -out pkcs8.enc")
        try ca.run("openssl ec -in coord.key -aes256 -passout pass:not-a-secret -out traditional.enc")
        #expect(try String(contentsOfFile: ca.path("pkcs8.enc"), encoding: .utf8).contains("BEGIN ENCRYPTED PRIVATE KEY"))
        #expect(try String(contentsOfFile: ca.path("traditional.enc"), encoding: .utf8).contains("Proc-Type: 4,ENCRYPTED"))
        for file in ["pkcs8.enc", "traditional.enc"] {
            let error = try #require(Self.loadError(cert, ca.path(file)), "\(file)")
            #expect(error == "TLS key file \(ca.path(file)) is encrypted with a passphrase; meshcoord needs an unencrypted key " +
                             "(readable by its user only)", "\(file): \(error)")
            try Self.expectNoKeyMaterial(error, ca)
        }
    }

    /// Missing, empty, oversized, not PEM, swapped, a directory: one line naming the file.
    @Test func badFilesAreClearErrorsNamingTheFile() throws {
        let ca = try TestCertificateAuthority()
        defer { ca.remove() }
        let (cert, key) = try ca.issue("coord")
        let missing = ca.path("missing.pem"), empty = ca.path("empty.pem"), big = ca.path("big.pem"), text = ca.path("text.pem")
        try Data().write(to: URL(fileURLWithPath: empty))
        try Data(repeating: UInt8(ascii: "A"), count: (1 << 20) + 1).write(to: URL(fileURLWithPath: big))
        try "just some text, not PEM\n".write(toFile: text, atomically: true, encoding: .utf8)
        // A PEM block of the right shape whose body is not DER.
        try "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
            .write(toFile: ca.path("junk-cert.pem"), atomically: true, encoding: .utf8)
        try "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END PRIVATE KEY-----\n"
            .write(toFile: ca.path("junk.key"), atomically: true, encoding: .utf8)

        let cases: [(cert: String, key: String, expected: String)] = [
            (missing, key, "TLS certificate file \(missing) does not exist"),
            (cert, missing, "TLS key file \(missing) does not exist"),
            (empty, key, "TLS certificate file \(empty) is empty"),
            (cert, empty, "TLS key file \(empty) is empty"),
            (big, key, "TLS certificate file \(big) is larger than 1024 KiB; it is not a PEM file"),
            (cert, big, "TLS key file \(big) is larger than 1024 KiB; it is not a PEM file"),
            (text, key, "TLS certificate file \(text) holds no"),
            (ca.path("junk-cert.pem"), key, "TLS certificate file \(ca.path("junk-cert.pem")) holds no"),
            (cert, text, "TLS key file \(text) holds no readable PEM private key"),
            (cert, ca.path("junk.key"), "TLS key file \(ca.path("junk.key")) holds no readable PEM private key"),
            // The two paths swapped: the key file holds no certificate, and the other way round.
            (key, cert, "TLS certificate file \(key) holds no"),
            (cert, cert, "TLS key file \(cert) holds no readable PEM private key"),
            (ca.dir, key, "TLS certificate file \(ca.dir) cannot be read"),
        ]
        for c in cases {
            let error = try #require(Self.loadError(c.cert, c.key), "\(c.cert) + \(c.key) loaded")
            #expect(error.hasPrefix(c.expected), "got: \(error)\nwanted: \(c.expected)")
            #expect(!error.contains("\n"), "\(error)")
            try Self.expectNoKeyMaterial(error, ca)
        }
        // The good pair still loads: none of the above was about the files next to them.
        #expect(Self.loadError(cert, key) == nil)
    }

    @Test func theSummaryWarnsOfAnExpiredOrNotYetValidCertificate() throws {
        let ca = try TestCertificateAuthority()
        defer { ca.remove() }
        let (cert, key) = try ca.issue("coord")
        let identity = try ServerTLSIdentity.load(certificateFile: cert, keyFile: key)
        #expect(identity.summary(nowSeconds: identity.notValidAfter).contains("(EXPIRED: clients will refuse it)"))
        #expect(identity.summary(nowSeconds: identity.notValidBefore - 1).contains("(NOT YET VALID: clients will refuse it)"))
        let fine = identity.summary(nowSeconds: identity.notValidBefore)
        #expect(!fine.contains("EXPIRED") && !fine.contains("NOT YET VALID"), "\(fine)")
        // The end of validity in UTC, as ISO 8601.
        let until = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(identity.notValidAfter)))
        #expect(fine.contains("valid until \(until)"), "\(fine)")
    }
}
