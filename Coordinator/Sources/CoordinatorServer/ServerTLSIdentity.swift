import Foundation
import NIOSSL

/// The certificate chain and private key a TLS listener serves, read from two PEM files (as
/// certbot and most CAs write them: `fullchain.pem` and `privkey.pem`), checked, and made into
/// a server context.
///
/// Every problem becomes one line naming the file and what is wrong with it; nothing of the
/// key's contents ever goes into a message (NIOSSL's own errors are not passed on for the key).
public struct ServerTLSIdentity: Sendable {
    public let certificateFile: String
    public let keyFile: String
    public let context: NIOSSLContext
    /// The leaf's serial number as `openssl x509 -noout -serial` prints it (uppercase hex).
    public let serial: String
    /// The leaf's validity, seconds since 1970.
    public let notValidBefore: Int64
    public let notValidAfter: Int64
    /// Certificates in the chain file (leaf first).
    public let chainLength: Int

    /// PEM certificate chains and keys are a few kB; anything this large is not one (and is not
    /// read into memory whole).
    static let maxFileBytes = 1 << 20

    public struct LoadError: Error, CustomStringConvertible, Equatable {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// Reads and checks both files and builds the context: TLS 1.2 or later, HTTP/1.1 by ALPN
    /// (the relay upgrade and the WebSocket transport are HTTP/1.1 upgrades).
    public static func load(certificateFile: String, keyFile: String) throws -> ServerTLSIdentity {
        let chainBytes = try readFile(certificateFile, what: "TLS certificate file")
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMBytes(chainBytes) } catch {
            throw LoadError("TLS certificate file \(certificateFile) holds no readable PEM certificate")
        }
        guard let leaf = chain.first else {
            throw LoadError("TLS certificate file \(certificateFile) holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\")")
        }
        var keyBytes = try readFile(keyFile, what: "TLS key file")
        defer { for i in keyBytes.indices { keyBytes[i] = 0 } }
        // A passphrase-protected key cannot be used unattended: refuse it rather than let
        // BoringSSL ask a terminal that a daemon does not have.
        let asked = PassphraseAsked()
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(bytes: keyBytes, format: .pem) { (_: NIOSSLPassphraseSetter<[UInt8]>) in
                asked.value = true
                throw LoadError("encrypted key")
            }
        } catch {
            if asked.value {
                throw LoadError("TLS key file \(keyFile) is encrypted with a passphrase; meshcoord needs an unencrypted key " +
                                "(readable by its user only)")
            }
            throw LoadError("TLS key file \(keyFile) holds no readable PEM private key")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        let context: NIOSSLContext
        do { context = try NIOSSLContext(configuration: configuration) } catch NIOSSLError.failedToLoadPrivateKey {
            // The chain and the key each parsed: BoringSSL refuses a key whose public half is
            // not the leaf certificate's.
            throw LoadError("TLS key file \(keyFile) does not match the first certificate in \(certificateFile) " +
                            "(the leaf must come first, and the key must be its own)")
        } catch {
            throw LoadError("cannot use TLS certificate \(certificateFile) with key \(keyFile)")
        }
        return ServerTLSIdentity(certificateFile: certificateFile, keyFile: keyFile, context: context,
                                 serial: leaf.serialNumber.map { byte in
                                     let hex = String(byte, radix: 16, uppercase: true)
                                     return byte < 16 ? "0" + hex : hex
                                 }.joined(),
                                 notValidBefore: Int64(leaf.notValidBefore), notValidAfter: Int64(leaf.notValidAfter),
                                 chainLength: chain.count)
    }

    /// What a log line says about it: serial, expiry, chain length (never anything of the key).
    public func summary(nowSeconds: Int64) -> String {
        let until = Date(timeIntervalSince1970: TimeInterval(notValidAfter))
        var text = "serial \(serial), valid until \(ISO8601DateFormatter().string(from: until)), " +
            "\(chainLength) certificate\(chainLength == 1 ? "" : "s") in the chain"
        if nowSeconds >= notValidAfter {
            text += " (EXPIRED: clients will refuse it)"
        } else if nowSeconds < notValidBefore {
            text += " (NOT YET VALID: clients will refuse it)"
        }
        return text
    }

    /// Up to `maxFileBytes` of the file; a clear line for a missing, unreadable or oversized file.
    static func readFile(_ path: String, what: String) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read (permissions?)" : "does not exist"
            throw LoadError("\(what) \(path) \(reason)")
        }
        defer { try? handle.close() }
        let data: Data
        do { data = try handle.read(upToCount: maxFileBytes + 1) ?? Data() } catch {
            throw LoadError("\(what) \(path) cannot be read: \(error.localizedDescription)")
        }
        guard data.count <= maxFileBytes else {
            throw LoadError("\(what) \(path) is larger than \(maxFileBytes / 1024) KiB; it is not a PEM file")
        }
        guard !data.isEmpty else { throw LoadError("\(what) \(path) is empty") }
        return Array(data)
    }
}

/// Set by the passphrase callback, which runs synchronously inside the key's initializer on
/// the same thread. Sendable by hand for the callback's `@Sendable` signature.
private final class PassphraseAsked: @unchecked Sendable {
    var value = false
}
