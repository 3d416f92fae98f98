import CoordinatorServer
import Foundation
import MeshTestSupport
import Testing

/// Admin input that used to trap: an auth key expiry so large that `now + expiry` overflowed
/// (over the admin socket, and in `meshcoord authkey create --expiry`).
@Suite struct AdminInputTests {
    @Test func anAuthKeyExpiryOutOfRangeIsA400AndTheServerKeepsServing() async throws {
        try await withServer("expiry") { server in
            for e in [Int64.max, Int64.max - 1, AdminCreateAuthKeyRequest.maxExpirySeconds + 1, -1, Int64.min] {
                let r = try await server.adminCall("POST", "/v1/authkeys", body: AdminCreateAuthKeyRequest(expirySeconds: e))
                #expect(r.status == 400 && r.text.contains("expirySeconds"), "\(e): \(r.status) \(r.text)")
            }
            let ok = try await server.adminCall("POST", "/v1/authkeys",
                                                body: AdminCreateAuthKeyRequest(expirySeconds: AdminCreateAuthKeyRequest.maxExpirySeconds))
            #expect(ok.status == 201, "\(ok.text)")
        }
    }

    @Test func anExpiryFlagThatOverflowsIsACleanError() async throws {
        let dir = tempStateDir("expiryflag")
        for expiry in ["99999999999999999w", "9223372036854775807s", "1000000000000d1s", "200y", "101000000h"] {
            let p = try MeshcoordProcess(["authkey", "create", "--expiry", expiry, "--state-dir", dir])
            let status = try await p.waitForExit()
            #expect(p.process.terminationReason == .exit, "\(expiry): killed by a signal: \(p.text)")
            #expect(status == 1 && !p.text.contains("Fatal error"), "\(expiry): \(status) \(p.text)")
            #expect(p.text.contains("duration"), "\(expiry): \(p.text)")
        }
    }

    /// Finding B through the binary, exhaustively: every numeric flag of `meshcoord serve` at
    /// every extreme. A value that is not even the flag's type is ArgumentParser's usage error
    /// (64); a value of the right type out of range is one line naming the setting (1). Never
    /// a signal (41b5fd5 trapped with SIGILL on `--keepalive 1e300`).
    @Test func everyNumericServeFlagAtEveryExtremeIsACleanError() async throws {
        let dir = tempStateDir("allflags")
        let base = ["serve", "--state-dir", dir, "--listen", "127.0.0.1:0", "--stun-ports", "none"]
        let flags = ["--keepalive", "--offline-after", "--max-body-bytes", "--max-connections", "--max-connections-per-source"]
        let values = ["1e300", "-1e300", "nan", "inf", "-inf", "9223372036854775808", "99999999999999999999", "-1", "0"]
        for flag in flags {
            for value in values {
                let p = try MeshcoordProcess(base + ["\(flag)=\(value)"])
                let status = try await p.waitForExit(timeout: .seconds(15))
                #expect(p.process.terminationReason == .exit, "\(flag)=\(value): killed by a signal: \(p.text)")
                #expect(status == 1 || status == 64, "\(flag)=\(value): status \(status): \(p.text)")
                #expect(!p.text.contains("Fatal error") && p.text.contains(flag), "\(flag)=\(value): \(p.text)")
            }
        }
    }
}
