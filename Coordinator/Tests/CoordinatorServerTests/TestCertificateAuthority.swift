import Foundation

/// A private CA and server certificates made by `openssl` at test time (an implementation
/// independent of the one under test), in a temp directory of their own.
struct TestCertificateAuthority {
    let dir: String
    var caFile: String { dir + "/ca.pem" }

    struct OpenSSLFailed: Error, CustomStringConvertible {
        let description: String
    }

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("mesh-coord-tls-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem " +
                "-days 2 -subj /CN=mesh-coord-test-ca")
    }

    /// A certificate for `altNames` signed by the CA, with a fresh unencrypted EC key:
    /// `<name>.pem` and `<name>.key`. `serial` (e.g. "0x05") sets the serial; by default
    /// openssl picks a random one.
    @discardableResult
    func issue(_ name: String, altNames: String = "DNS:localhost,IP:127.0.0.1", serial: String? = nil) throws -> (cert: String, key: String) {
        try "subjectAltName=\(altNames)\n".write(toFile: "\(dir)/\(name).ext", atomically: true, encoding: .utf8)
        let serialArgument = serial.map { "-set_serial \($0)" } ?? "-CAcreateserial"
        try run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout \(name).key -out \(name).csr " +
                "-subj /CN=\(name) && openssl x509 -req -in \(name).csr -CA ca.pem -CAkey ca.key \(serialArgument) " +
                "-out \(name).pem -days 2 -extfile \(name).ext")
        return (path(name + ".pem"), path(name + ".key"))
    }

    /// What `openssl x509 -noout -serial` prints for a certificate file, without "serial=".
    func serial(ofCertificate file: String) throws -> String {
        let out = try run("openssl x509 -noout -serial -in '\(file)'")
        guard out.hasPrefix("serial=") else { throw OpenSSLFailed(description: "openssl printed \(out) for the serial") }
        return String(out.dropFirst("serial=".count)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The serial of the certificate a TLS server at 127.0.0.1:`port` presents, as openssl's
    /// own client sees it (checked against the CA).
    func servedSerial(port: Int) throws -> String {
        let out = try run("openssl s_client -connect 127.0.0.1:\(port) -servername localhost -CAfile ca.pem " +
                          "-verify_return_error </dev/null 2>/dev/null | openssl x509 -noout -serial")
        guard out.hasPrefix("serial=") else { throw OpenSSLFailed(description: "s_client saw no certificate: \(out)") }
        return String(out.dropFirst("serial=".count)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func path(_ name: String) -> String { "\(dir)/\(name)" }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }

    /// Runs a shell command in the CA's directory; its stdout, or an error with the command
    /// (no key material is ever on a command line here: keys are passed as file names).
    @discardableResult
    func run(_ script: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", "set -o pipefail; " + script]
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw OpenSSLFailed(description: "openssl failed (\(p.terminationStatus)): \(script)")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
