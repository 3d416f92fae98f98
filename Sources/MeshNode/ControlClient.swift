import Foundation
import MeshCrypto
import MeshHTTP
import MeshIO
import MeshTLS
import MeshWire
import NIOCore

/// Why a control call failed.
public enum ControlError: Error, CustomStringConvertible, Sendable {
    /// No answer: connection refused, reset, timed out. Retry with backoff.
    case unreachable(String)
    /// The coordinator answered with an error; `body` carries its reason.
    case refused(status: Int, body: ErrorBody?, raw: String)
    /// An answer that is not a valid sealed reply to this request.
    case badReply(String)
    /// The URL of the join token cannot be used.
    case badURL(String)

    public var description: String {
        switch self {
        case .unreachable(let s): return "coordinator unreachable: \(s)"
        case .refused(let status, let body, let raw):
            if let body { return "coordinator refused (HTTP \(status)): \(body.error) [\(body.code)]" }
            return "coordinator refused (HTTP \(status)): \(raw.prefix(200))"
        case .badReply(let s): return "bad answer from the coordinator: \(s)"
        case .badURL(let s): return s
        }
    }

    public var code: ErrorCode? {
        if case .refused(_, let body, _) = self, let c = body?.code { return ErrorCode(rawValue: c) }
        return nil
    }

    /// Worth retrying later as is: no answer, overload, a server error, a clock hiccup.
    public var isTransient: Bool {
        switch self {
        case .unreachable, .badReply: return true
        case .badURL: return false
        case .refused(let status, _, _):
            switch code {
            case .unavailable, .internal, .staleRequest, .replayedRequest: return true
            case nil: return status >= 500
            default: return status >= 500
            }
        }
    }

    /// The coordinator no longer knows this node as active (removed, expired, logged out).
    public var nodeGone: Bool { code == .nodeExpired || code == .nodeUnknown }
}

/// The node's side of the control protocol (DESIGN.md section 7): every body sealed with
/// `ControlSeal` between the node key and the coordinator key, a fresh 16-byte request id and
/// 24-byte nonce per request.
public final class ControlClient: Sendable {
    public let coordinatorURL: String
    public let target: SimpleHTTPClient.Target
    /// Path prefix from the URL ("" or e.g. "/mesh").
    public let basePath: String
    let nodeKeyBytes: [UInt8]
    let coordinatorKeyBytes: [UInt8]
    /// An `https://` coordinator is reached through this proxy (CONNECT), unless it bypasses it.
    public let proxy: HTTPSProxy?

    /// - Parameter tls: the roots an `https://` coordinator (or its proxy) is checked against.
    public init(coordinatorURL: String, coordinatorKeyBytes: [UInt8], nodeKeyBytes: [UInt8], tls: TLSClient? = nil,
                proxy: HTTPSProxy? = nil) throws {
        precondition(coordinatorKeyBytes.count == 32 && nodeKeyBytes.count == 32)
        self.proxy = proxy
        self.coordinatorURL = coordinatorURL
        self.coordinatorKeyBytes = coordinatorKeyBytes
        self.nodeKeyBytes = nodeKeyBytes
        (target, basePath) = try Self.parse(url: coordinatorURL, tls: tls)
    }

    public var nodePublicKeyBase64: String { Self.publicKeyBase64(nodeKeyBytes) }

    static func publicKeyBase64(_ privateBytes: [UInt8]) -> String {
        (try! PrivateKey(rawBytes: privateBytes)).publicKey.base64
    }

    /// "http[s]://host[:port][/path]" → where to connect and the path prefix.
    public static func parse(url: String, tls: TLSClient? = nil) throws -> (SimpleHTTPClient.Target, String) {
        do { return try SimpleHTTPClient.Target.service(url: url, tls: tls) } catch {
            throw ControlError.badURL("coordinator URL \(error)")
        }
    }

    // MARK: Calls

    public func register(_ request: RegisterRequest) async throws -> RegisterResponse {
        try await call("/v1/register", request, as: RegisterResponse.self, timeout: .seconds(30))
    }

    /// The long-poll; `timeout` must exceed the coordinator's keepalive interval (~50 s).
    public func map(_ request: MapRequest, timeout: TimeAmount = .seconds(90)) async throws -> MapResponse {
        try await call("/v1/map", request, as: MapResponse.self, timeout: timeout)
    }

    public func updateEndpoints(_ request: EndpointsRequest) async throws -> EndpointsResponse {
        try await call("/v1/endpoints", request, as: EndpointsResponse.self, timeout: .seconds(15))
    }

    public func logout(reason: String? = nil) async throws -> LogoutResponse {
        try await call("/v1/logout", LogoutRequest(reason: reason), as: LogoutResponse.self, timeout: .seconds(15))
    }

    func call<B: Codable, R: Codable>(_ path: String, _ body: B, as: R.Type, timeout: TimeAmount) async throws -> R {
        let (bytes, rid) = try seal(body)
        let response: SimpleHTTPClient.Response
        do {
            response = try await SimpleHTTPClient.request(target, method: "POST", path: basePath + path, body: bytes,
                                                          timeout: timeout, proxy: proxy)
        } catch {
            throw ControlError.unreachable("\(coordinatorURL): \(error)")
        }
        guard response.status == 200 else {
            let decoded = try? JSONDecoder().decode(ErrorBody.self, from: Data(response.body))
            throw ControlError.refused(status: response.status, body: decoded, raw: response.text)
        }
        return try open(response.body, requestID: rid, as: R.self)
    }

    /// Synchronous on purpose: the keys exist only in this frame.
    func seal<B: Codable>(_ body: B) throws -> ([UInt8], [UInt8]) {
        var entropy = SystemEntropy()
        var rid = [UInt8](repeating: 0, count: ControlSeal.requestIDLength)
        var nonce = [UInt8](repeating: 0, count: Box.nonceLength)
        rid.withUnsafeMutableBytes { entropy.fill($0) }
        nonce.withUnsafeMutableBytes { entropy.fill($0) }
        let key = try PrivateKey(rawBytes: nodeKeyBytes)
        let coordinator = try PublicKey(rawBytes: coordinatorKeyBytes)
        let bytes = try ControlSeal.sealRequest(body, nodeKey: key, coordinatorKey: coordinator,
                                                nowMillis: Int64(Date().timeIntervalSince1970 * 1000),
                                                requestID: rid, nonce: nonce)
        return (bytes, rid)
    }

    func open<R: Codable>(_ data: [UInt8], requestID: [UInt8], as: R.Type) throws -> R {
        let key = try PrivateKey(rawBytes: nodeKeyBytes)
        let coordinator = try PublicKey(rawBytes: coordinatorKeyBytes)
        do {
            return try ControlSeal.openReply(data, as: R.self, nodeKey: key, coordinatorKey: coordinator, requestID: requestID)
        } catch {
            throw ControlError.badReply("\(error)")
        }
    }
}
