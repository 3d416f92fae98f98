import CoordinatorServer
import Foundation
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
}
