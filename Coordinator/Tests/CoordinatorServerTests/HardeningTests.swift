import CoordinatorServer
import CoordinatorStore
import Foundation
import MeshCrypto
import MeshHTTP
import MeshTestSupport
import MeshWire
import Testing

/// Findings 5, 7, 9 and 10 (server side), each reproduced against the node API.
@Suite struct HardeningTests {
    /// A registered node cannot register a second node under another node's (public) disco
    /// key, nor switch to it later through /v1/map or /v1/endpoints.
    @Test func aDiscoKeyHeldByAnotherNodeIsRefused() async throws {
        try await withServer("disco") { server in
            let token = try await server.authKey(reusable: true)
            let victim = TestNode(server: server)
            _ = try await victim.register(token, hostname: "victim")
            let clone = TestNode(server: server)
            let request = RegisterRequest(authKey: token.authSecret, hostname: "clone", os: "linux", discoKey: victim.discoKey)
            let refused = await failureCode { _ = try await clone.exchange("/v1/register", request) }
            #expect(refused?.0 == 409 && refused?.1 == "disco_key_in_use", "\(String(describing: refused))")

            // A node with its own disco key cannot move to the victim's later either.
            let other = TestNode(server: server)
            _ = try await other.register(token, hostname: "other")
            let viaMap = await failureCode {
                _ = try await other.call("/v1/map", MapRequest(discoKey: victim.discoKey), as: MapResponse.self)
            }
            #expect(viaMap?.0 == 409 && viaMap?.1 == "disco_key_in_use", "\(String(describing: viaMap))")
            let viaEndpoints = await failureCode {
                _ = try await other.call("/v1/endpoints", EndpointsRequest(endpoints: ["192.0.2.1:41641"], discoKey: victim.discoKey),
                                         as: EndpointsResponse.self)
            }
            #expect(viaEndpoints?.0 == 409 && viaEndpoints?.1 == "disco_key_in_use", "\(String(describing: viaEndpoints))")
            // The victim re-registering with its own key is fine, and nobody else holds it.
            _ = try await victim.register(token, hostname: "victim")
            let nodes = try JSONDecoder().decode([AdminNode].self, from: Data(try await server.adminCall("GET", "/v1/nodes").body))
            #expect(nodes.filter { $0.discoKey == victim.discoKey }.count == 1)
        }
    }

    /// A request captured before a restart is refused after it (it was accepted: the replay
    /// guard lives in memory); fresh requests work at once.
    @Test func aRequestCapturedBeforeARestartIsRefusedAfterIt() async throws {
        let dir = tempStateDir("replay")
        let first = try await TestCoordinator.start("replay", dir: dir)
        let token = try await first.authKey(reusable: true)
        var node = TestNode(server: first)
        _ = try await node.register(token)
        let captured = try node.seal(EndpointsRequest(endpoints: ["192.0.2.10:41641"]))
        let capturedLogout = try node.seal(LogoutRequest())
        #expect(try await node.post("/v1/endpoints", captured.bytes).status == 200)
        try await first.stop()

        try await Task.sleep(for: .milliseconds(20))
        let second = try await TestCoordinator.start("replay", dir: dir)
        node.target = second.target
        for (what, bytes) in [("endpoints", captured.bytes), ("logout", capturedLogout.bytes)] {
            let r = try await node.post("/v1/\(what)", bytes)
            #expect(r.status == 401, "\(what) replayed after restart: \(r.status) \(r.text)")
            #expect(r.text.contains("stale_request"), "\(r.text)")
        }
        // The node is still logged in and works.
        #expect(try await node.map().kind == .full)
        _ = try await node.endpoints(["192.0.2.11:41641"])
        try await second.stop()
    }

    /// Control characters and bidi overrides in hostname/os are stored cleaned; a homeRelay
    /// carrying them is refused.
    @Test func controlCharactersFromANodeAreCleanedOnRegistration() async throws {
        try await withServer("ansi") { server in
            let token = try await server.authKey(reusable: true)
            let node = TestNode(server: server)
            let evilOS = "linux\u{1b}[2J\u{1b}]0;owned\u{07}\u{9b}31m\u{202e}xunil\u{7f}"
            let request = RegisterRequest(authKey: token.authSecret, hostname: "host\u{1b}[1A\r\n", os: evilOS, discoKey: node.discoKey)
            _ = try await node.exchange("/v1/register", request)
            let nodes = try JSONDecoder().decode([AdminNode].self, from: Data(try await server.adminCall("GET", "/v1/nodes").body))
            let n = try #require(nodes.first)
            #expect(TerminalText.isClean(n.os) && TerminalText.isClean(n.hostname), "\(n.os.debugDescription) \(n.hostname.debugDescription)")
            #expect(n.os.hasPrefix("linux?[2J"))
            let bad = await failureCode {
                _ = try await node.call("/v1/map", MapRequest(homeRelay: "fra\u{1b}[2J"), as: MapResponse.self)
            }
            #expect(bad?.0 == 400)
        }
    }

    /// The table `meshcoord node list` prints shows escapes, never the raw bytes.
    @Test func theAdminTableEscapesControlCharacters() {
        let table = renderTable(["ID", "OS"], [["1", "linux\u{1b}[2J\u{9b}x\u{202e}y\u{7f}\u{2066}"]])
        #expect(!table.unicodeScalars.contains { TerminalText.isUnsafe($0) && $0 != "\n" })
        #expect(table.contains("linux\\x1b[2J\\x9bx\\u{202e}y\\x7f\\u{2066}"), "\(table)")
        #expect(TerminalText.cleaned("a\u{0}b\u{85}c\u{200f}") == "a?b?c?")
        #expect(TerminalText.escaped("plain ünïcödé 名前") == "plain ünïcödé 名前")
    }

    /// A database that cannot grow (as on a full disk) answers 503 `unavailable` with a
    /// generic message; SQLite's text stays in the log. It was a 500 with the raw text.
    @Test func aFullDatabaseAnswers503WithoutInternalText() async throws {
        try await withServer("full") { server in
            let token = try await server.authKey(reusable: true)
            let store = server.coordinator.store
            try await store.setSizeLimit(pages: try store.pageCount())
            var failure: NodeCallError?
            for i in 0..<400 {
                do {
                    _ = try await TestNode(server: server).register(token, hostname: "filler-\(i)-" + String(repeating: "x", count: 200))
                } catch let e as NodeCallError {
                    failure = e
                    break
                }
            }
            let e = try #require(failure, "the database never filled up")
            #expect(e.status == 503, "\(e)")
            #expect(e.body?.code == "unavailable", "\(e)")
            let text = e.raw.lowercased()
            for leak in ["sqlite", "full", "disk", ".sqlite", "/tmp", "error:", "grdb"] {
                #expect(!text.contains(leak), "leaked \"\(leak)\": \(e.raw)")
            }
            // Admin calls that write say the same.
            let admin = try await server.adminCall("POST", "/v1/authkeys", body: AdminCreateAuthKeyRequest(description: String(repeating: "d", count: 3000)))
            if admin.status != 201 {
                #expect(admin.status == 503 && !admin.text.lowercased().contains("sqlite"), "\(admin.text)")
            }
            try await store.setSizeLimit(pages: 1 << 30)
            _ = try await TestNode(server: server).register(token, hostname: "after")
        }
    }
}
