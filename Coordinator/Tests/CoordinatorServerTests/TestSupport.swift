import CoordinatorServer
import CoordinatorStore
import Foundation
import Logging
import MeshCrypto
import MeshHTTP
import MeshTestSupport
import MeshWire
import NIOCore
import NIOPosix
import Testing

/// The failure a node sees: HTTP status plus the coordinator's error body.
struct NodeCallError: Error, CustomStringConvertible {
    var status: Int
    var body: ErrorBody?
    var raw: String
    var description: String { "HTTP \(status): \(body?.description ?? raw)" }
}

/// A simulated node: its own key, sealing every request as meshd would.
struct TestNode: Sendable {
    // Keys as bytes, not SIMD-backed Key32 values: those corrupt async frames with Swift 6.3.1.
    let keyBytes: [UInt8]
    let coordinatorKeyBytes: [UInt8]
    var target: SimpleHTTPClient.Target
    let discoKey: String
    var key: PrivateKey { try! PrivateKey(rawBytes: keyBytes) }
    var coordinatorKey: PublicKey { try! PublicKey(rawBytes: coordinatorKeyBytes) }
    var publicKeyBase64: String { key.publicKey.base64 }

    init(server: TestCoordinator) { self.init(target: server.target, coordinatorKeyBytes: server.coordinator.publicKey.rawBytes) }

    init(target: SimpleHTTPClient.Target, coordinatorKeyBytes: [UInt8]) {
        var e = SodiumEntropy()
        keyBytes = PrivateKey.generate(using: &e).rawBytes
        discoKey = PrivateKey.generate(using: &e).publicKey.base64
        self.coordinatorKeyBytes = coordinatorKeyBytes
        self.target = target
    }

    /// The sealed bytes of a request (so tests can replay or tamper with them).
    func seal<B: Codable>(_ body: B, nowMillis: Int64? = nil, toKeyBytes: [UInt8]? = nil) throws -> (bytes: [UInt8], rid: [UInt8]) {
        let rid = SodiumEntropy.bytes(16)
        let to = try toKeyBytes.map { try PublicKey(rawBytes: $0) } ?? coordinatorKey
        let bytes = try ControlSeal.sealRequest(body, nodeKey: key, coordinatorKey: to,
                                                nowMillis: nowMillis ?? Int64(Date().timeIntervalSince1970 * 1000),
                                                requestID: rid, nonce: SodiumEntropy.bytes(24))
        return (bytes, rid)
    }

    func post(_ path: String, _ bytes: [UInt8]) async throws -> SimpleHTTPClient.Response {
        try await SimpleHTTPClient.request(target, method: "POST", path: path, body: bytes)
    }

    /// Seals, posts, checks the status; returns the reply bytes and the request id.
    func exchange<B: Codable>(_ path: String, _ body: B) async throws -> ([UInt8], [UInt8]) {
        let sealed = try seal(body)
        let r = try await post(path, sealed.bytes)
        if r.status != 200 {
            let decoded = try? JSONDecoder().decode(ErrorBody.self, from: Data(r.body))
            throw NodeCallError(status: r.status, body: decoded, raw: r.text)
        }
        return (r.body, sealed.rid)
    }

    func open<R: Codable>(_ reply: ([UInt8], [UInt8]), as type: R.Type) throws -> R {
        try ControlSeal.openReply(reply.0, as: type, nodeKey: key, coordinatorKey: coordinatorKey, requestID: reply.1)
    }

    func call<B: Codable, R: Codable>(_ path: String, _ body: B, as type: R.Type) async throws -> R {
        try open(try await exchange(path, body), as: type)
    }

    func register(_ token: JoinToken, hostname: String = "node") async throws -> RegisterResponse {
        try await register(secret: token.authSecret, hostname: hostname)
    }

    func register(secret: String?, hostname: String = "node") async throws -> RegisterResponse {
        let request = RegisterRequest(authKey: secret, hostname: hostname, os: "linux", discoKey: discoKey)
        return try open(try await exchange("/v1/register", request), as: RegisterResponse.self)
    }

    func map(since: UInt64? = nil, endpoints: [String]? = nil, wait: Bool? = nil) async throws -> MapResponse {
        try await call("/v1/map", MapRequest(sinceVersion: since, endpoints: endpoints, wait: wait), as: MapResponse.self)
    }

    func endpoints(_ e: [String]) async throws -> EndpointsResponse {
        try await call("/v1/endpoints", EndpointsRequest(endpoints: e), as: EndpointsResponse.self)
    }
}

/// The error code a call failed with (nil when it succeeded).
func failureCode(_ body: () async throws -> Void) async -> (Int, String)? {
    do {
        try await body()
        return nil
    } catch let e as NodeCallError {
        return (e.status, e.body?.code ?? "no-json-body: \(e.raw)")
    } catch {
        return (0, "\(error)")
    }
}

/// Runs `body` against a fresh server and always stops it (cleanly) afterwards.
@discardableResult
func withServer<T>(_ name: String, keepAlive: Double = 50, _ body: (TestCoordinator) async throws -> T) async throws -> T {
    let server = try await TestCoordinator.start(name, keepAlive: keepAlive)
    do {
        let r = try await body(server)
        try await server.stop()
        return r
    } catch {
        try? await server.stop()
        throw error
    }
}
