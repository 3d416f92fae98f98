import CoordinatorServer
import Foundation
import MeshCrypto
import MeshHTTP
import MeshTestSupport
import MeshWire
import Testing

@Suite struct BadInputTests {
    static func errorBody(_ r: SimpleHTTPClient.Response) -> ErrorBody? {
        try? JSONDecoder().decode(ErrorBody.self, from: Data(r.body))
    }

    static func expectError(_ r: SimpleHTTPClient.Response, _ status: Int, _ code: String, _ what: String) {
        #expect(r.status == status, "\(what): got \(r.status) \(r.text)")
        let body = errorBody(r)
        #expect(body?.code == code, "\(what): \(r.text)")
        #expect((body?.error.count ?? 0) > 10, "\(what): the error should say why")
        #expect(r.header("content-type")?.contains("application/json") == true, "\(what)")
    }

    @Test func eachKindOfBadRequestGetsAClear4xx() async throws {
        let server = try await TestCoordinator.start("bad")
        let token = try await server.authKey(reusable: true)
        let node = TestNode(server: server)
        let t = server.target
        func post(_ path: String, _ body: String) async throws -> SimpleHTTPClient.Response {
            try await SimpleHTTPClient.request(t, method: "POST", path: path, body: Array(body.utf8))
        }

        Self.expectError(try await post("/v1/register", "{not json"), 400, "malformed_json", "malformed JSON")
        Self.expectError(try await post("/v1/register", ""), 400, "malformed_json", "empty body")
        Self.expectError(try await post("/v1/map", #"{"hostname":"x","os":"linux"}"#), 400, "bad_envelope", "unsealed JSON")
        let plain = try JSONEncoder().encode(RegisterRequest(authKey: token.authSecret, hostname: "h", os: "linux", discoKey: node.discoKey))
        Self.expectError(try await post("/v1/register", String(decoding: plain, as: UTF8.self)), 400, "bad_envelope", "plain register")

        // Oversized, with a Content-Length and chunked without one.
        let big = [UInt8](repeating: UInt8(ascii: "a"), count: 200 * 1024)
        Self.expectError(try await SimpleHTTPClient.request(t, method: "POST", path: "/v1/register", body: big), 413, "body_too_large", "oversized")
        var chunked = Array("POST /v1/map HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        for _ in 0..<20 { chunked += Array("2800\r\n".utf8) + [UInt8](repeating: 0x7B, count: 0x2800) + [13, 10] }
        chunked += Array("0\r\n\r\n".utf8)
        let chunkedReply = try SimpleHTTPClient.parse(try await SimpleHTTPClient.exchange(t, bytes: chunked))
        Self.expectError(chunkedReply, 413, "body_too_large", "oversized chunked")

        // Sealed for another coordinator.
        let otherCoordinator = TestNode(server: server).keyBytes  // any other X25519 key
        let wrong = try node.seal(RegisterRequest(authKey: token.authSecret, hostname: "h", os: "linux", discoKey: node.discoKey), toKeyBytes: otherCoordinator)
        Self.expectError(try await node.post("/v1/register", wrong.bytes), 401, "bad_seal", "wrongly sealed")
        // Tampered box.
        var obj = try JSONSerialization.jsonObject(with: Data(try node.seal(MapRequest()).bytes)) as! [String: String]
        var box = Base64.decode(obj["box"]!)!
        box[box.count / 2] ^= 0x40
        obj["box"] = Base64.encode(box)
        Self.expectError(try await node.post("/v1/map", Array(try JSONSerialization.data(withJSONObject: obj))), 401, "bad_seal", "tampered")

        // Stale (2 minutes old) and from the future.
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let stale = try node.seal(RegisterRequest(authKey: token.authSecret, hostname: "h", os: "linux", discoKey: node.discoKey), nowMillis: now - 120_000)
        Self.expectError(try await node.post("/v1/register", stale.bytes), 401, "stale_request", "stale")
        let future = try node.seal(MapRequest(), nowMillis: now + 300_000)
        Self.expectError(try await node.post("/v1/map", future.bytes), 401, "stale_request", "future")

        // Replayed: the first copy registers, the second is refused.
        let once = try node.seal(RegisterRequest(authKey: token.authSecret, hostname: "h", os: "linux", discoKey: node.discoKey))
        #expect(try await node.post("/v1/register", once.bytes).status == 200)
        Self.expectError(try await node.post("/v1/register", once.bytes), 409, "replayed_request", "replayed")

        // Sealed but the body is not the right message, or a bad field.
        let wrongBody = try node.seal(["sinceVersion": "seven"])
        Self.expectError(try await node.post("/v1/map", wrongBody.bytes), 400, "bad_request", "wrong body")
        let badEndpoint = try node.seal(EndpointsRequest(endpoints: ["not-an-endpoint"]))
        Self.expectError(try await node.post("/v1/endpoints", badEndpoint.bytes), 400, "bad_request", "bad endpoint")
        // Not registered.
        let stranger = TestNode(server: server)
        Self.expectError(try await stranger.post("/v1/map", try stranger.seal(MapRequest()).bytes), 401, "node_unknown", "unregistered")

        // Unknown paths and methods.
        Self.expectError(try await post("/v1/nope", "{}"), 404, "not_found", "unknown path")
        Self.expectError(try await SimpleHTTPClient.request(t, method: "GET", path: "/admin"), 404, "not_found", "unknown GET")
        let getRegister = try await SimpleHTTPClient.request(t, method: "GET", path: "/v1/register")
        #expect([404, 405].contains(getRegister.status))
        #expect(Self.errorBody(getRegister) != nil)
        Self.expectError(try await server.adminCall("GET", "/v1/whatever"), 404, "not_found", "admin unknown path")
        Self.expectError(try await server.adminCall("POST", "/v1/nodes/abc/expire"), 400, "bad_request", "admin bad id")
        Self.expectError(try await server.adminCall("POST", "/v1/nodes/9999/expire"), 404, "not_found", "admin no such node")
        Self.expectError(try await server.adminCall("POST", "/v1/authkeys", body: ["tags": ["has space"]]), 400, "bad_request", "bad tag")
        let badJSON = try await SimpleHTTPClient.request(server.admin, method: "POST", path: "/v1/authkeys", body: Array("{".utf8))
        Self.expectError(badJSON, 400, "malformed_json", "admin malformed")

        // Still healthy.
        _ = try await TestNode(server: server).register(token)
        try await server.stop()
    }

    /// At least 10,000 random bodies at the node API; every answer is a 4xx and the server
    /// still serves real requests afterwards.
    /// A reverse proxy that keeps upstream connections alive must be told to open a new one per
    /// request: the relay upgrade is only recognised as a connection's first request.
    @Test func everyAnswerAsksForANewConnection() async throws {
        let server = try await TestCoordinator.start("close")
        // Two requests on one connection, the first without "Connection: close" (as a keep-alive
        // proxy sends it), the second with it so the server ends the connection.
        let raw = Array("POST /v1/map HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}".utf8)
            + Array("GET /v1/nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)
        let answer = String(decoding: try await SimpleHTTPClient.exchange(server.target, bytes: raw, timeout: .seconds(10)),
                            as: UTF8.self)
        let heads = answer.components(separatedBy: "HTTP/1.1 ").dropFirst()
        #expect(heads.count == 2, "\(answer)")
        for head in heads {
            let headers = head.components(separatedBy: "\r\n\r\n")[0].lowercased()
            #expect(headers.contains("connection: close"), "\(head)")
        }
        try await server.stop()
    }

    @Test func fuzzTenThousandRandomBodies() async throws {
        let server = try await TestCoordinator.start("fuzz")
        let token = try await server.authKey(reusable: true)
        let node = TestNode(server: server)
        _ = try await node.register(token)
        let valid = try node.seal(MapRequest(sinceVersion: 1, wait: false)).bytes
        // Used once, so mutated copies that happen to equal it are refused as replays.
        #expect(try await node.post("/v1/map", valid).status == 200)
        let paths = ["/v1/register", "/v1/map", "/v1/endpoints", "/v1/logout"]
        let total = 10_000, workers = 16
        let statuses = try await withThrowingTaskGroup(of: [Int: Int].self) { group in
            for w in 0..<workers {
                group.addTask {
                    var rng = FuzzRNG(seed: UInt64(w) &* 7919 &+ 1)
                    var counts: [Int: Int] = [:]
                    for i in stride(from: w, to: total, by: workers) {
                        let body = FuzzRNG.body(i, &rng, valid: valid, nodeKey: node.publicKeyBase64)
                        let r = try await SimpleHTTPClient.request(server.target, method: "POST", path: paths[i % paths.count], body: body)
                        counts[r.status, default: 0] += 1
                    }
                    return counts
                }
            }
            var all: [Int: Int] = [:]
            for try await c in group { all.merge(c, uniquingKeysWith: +) }
            return all
        }
        print("fuzz: statuses \(statuses.sorted { $0.key < $1.key })")
        #expect(statuses.values.reduce(0, +) == total)
        for (status, _) in statuses { #expect((400..<500).contains(status), "status \(status) from random input") }
        // Raw garbage that is not even HTTP.
        for i in 0..<20 {
            var rng = FuzzRNG(seed: UInt64(i) + 99)
            _ = try? await SimpleHTTPClient.exchange(server.target, bytes: rng.bytes(Int(rng.next() % 2000) + 1), timeout: .seconds(5))
        }
        // Still answering.
        let fresh = TestNode(server: server)
        _ = try await fresh.register(token)
        #expect(try await fresh.map().kind == .full)
        try await server.stop()
    }
}

struct FuzzRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }

    /// Different families of junk: raw bytes, JSON-ish text, mutated valid envelopes,
    /// envelopes with random fields, oversized bodies.
    static func body(_ i: Int, _ r: inout FuzzRNG, valid: [UInt8], nodeKey: String) -> [UInt8] {
        switch i % 6 {
        case 0:
            return r.bytes(Int(r.next() % 600))
        case 1:
            let alphabet = Array("{}[]\":,0123456789abcdefnulltrue \\".utf8)
            return (0..<Int(r.next() % 300)).map { _ in alphabet[Int(r.next() % UInt64(alphabet.count))] }
        case 2:
            var v = valid
            for _ in 0..<(1 + Int(r.next() % 4)) { v[Int(r.next() % UInt64(v.count))] = UInt8(truncatingIfNeeded: r.next()) }
            return v
        case 3:
            return Array(valid.prefix(Int(r.next() % UInt64(valid.count))))
        case 4:
            let box = Base64.encode(r.bytes(16 + Int(r.next() % 200)))
            let nonce = Base64.encode(r.bytes(r.next() % 3 == 0 ? 24 : Int(r.next() % 40)))
            let key = r.next() % 2 == 0 ? nodeKey : Base64.encode(r.bytes(32))
            return Array(#"{"nodeKey":"\#(key)","nonce":"\#(nonce)","box":"\#(box)"}"#.utf8)
        default:
            return r.next() % 10 == 0 ? r.bytes(70_000) : Array(#"{"nodeKey":\#(r.next() % 1000),"box":null}"#.utf8)
        }
    }
}
