import Foundation
import MeshCrypto
import MeshHTTP
import MeshTLS
import MeshWire
import NIOCore

/// Why a `/v1/relay/nodes` request failed. Descriptions carry no key material.
public enum RelayNodesFetchError: Error, CustomStringConvertible, Sendable {
    /// No answer: refused, reset, timed out.
    case unreachable(String)
    /// The coordinator answered with an error.
    case refused(status: Int, body: ErrorBody?, raw: String)
    /// Not a sealed answer to this request from the pinned coordinator key.
    case badReply(String)

    public var description: String {
        switch self {
        case .unreachable(let s): return "coordinator unreachable: \(s)"
        case .refused(let status, let body?, _) where body.code == ErrorCode.nodeUnknown.rawValue:
            return "the coordinator does not know this relay's key (HTTP \(status)): \(body.error)"
        case .refused(let status, let body?, _): return "coordinator refused (HTTP \(status)): \(body.error) [\(body.code)]"
        case .refused(let status, nil, let raw): return "coordinator refused (HTTP \(status)): \(TerminalText.cleaned(String(raw.prefix(200))))"
        case .badReply(let s): return "bad answer from the coordinator: \(s)"
        }
    }
}

/// The relay's side of `POST /v1/relay/nodes`: the request sealed from the relay's key to the
/// pinned coordinator key (a fresh request id and nonce each time), the answer opened and
/// checked to belong to it, so plain HTTP would do; HTTPS is for the proxies and firewalls on the way. Keys are held as bytes so no
/// key value lives in an async frame.
public final class RelayNodesClient: Sendable {
    public static let path = "/v1/relay/nodes"

    public let coordinatorURL: String
    let target: SimpleHTTPClient.Target
    let basePath: String
    let relayKeyBytes: [UInt8]
    let coordinatorKeyBytes: [UInt8]

    /// - Parameter tls: the roots an `https://` coordinator (or its proxy) is checked against.
    public init(coordinatorURL: String, coordinatorKeyBytes: [UInt8], relayKeyBytes: [UInt8], tls: TLSClient? = nil) throws {
        precondition(coordinatorKeyBytes.count == 32 && relayKeyBytes.count == 32)
        self.coordinatorURL = coordinatorURL
        self.coordinatorKeyBytes = coordinatorKeyBytes
        self.relayKeyBytes = relayKeyBytes
        (target, basePath) = try Self.parse(url: coordinatorURL, tls: tls)
    }

    /// "http[s]://host[:port][/path]" → where to connect and the path prefix.
    public static func parse(url: String, tls: TLSClient? = nil) throws -> (SimpleHTTPClient.Target, String) {
        do { return try SimpleHTTPClient.Target.service(url: url, tls: tls) } catch {
            throw StartupError("coordinator URL \(error)")
        }
    }

    /// One request; `timeout` must exceed the coordinator's keepalive_seconds when `wait` is set.
    public func fetch(_ request: RelayNodesRequest, timeout: TimeAmount) async throws -> RelayNodesResponse {
        let (bytes, rid) = try seal(request)
        let response: SimpleHTTPClient.Response
        do {
            response = try await SimpleHTTPClient.request(target, method: "POST", path: basePath + Self.path, body: bytes,
                                                          timeout: timeout)
        } catch {
            throw RelayNodesFetchError.unreachable("\(coordinatorURL): \(error)")
        }
        guard response.status == 200 else {
            let decoded = try? JSONDecoder().decode(ErrorBody.self, from: Data(response.body))
            throw RelayNodesFetchError.refused(status: response.status, body: decoded, raw: response.text)
        }
        return try open(response.body, requestID: rid)
    }

    /// Synchronous on purpose: the key values exist only in this frame.
    func seal(_ request: RelayNodesRequest) throws -> ([UInt8], [UInt8]) {
        let rid = SodiumEntropy.bytes(ControlSeal.requestIDLength)
        let key = try PrivateKey(rawBytes: relayKeyBytes)
        let coordinator = try PublicKey(rawBytes: coordinatorKeyBytes)
        let bytes = try ControlSeal.sealRequest(request, nodeKey: key, coordinatorKey: coordinator,
                                                nowMillis: Coordinator.nowMillis(), requestID: rid,
                                                nonce: SodiumEntropy.bytes(Box.nonceLength))
        return (bytes, rid)
    }

    func open(_ data: [UInt8], requestID: [UInt8]) throws -> RelayNodesResponse {
        let key = try PrivateKey(rawBytes: relayKeyBytes)
        let coordinator = try PublicKey(rawBytes: coordinatorKeyBytes)
        do {
            return try ControlSeal.openReply(data, as: RelayNodesResponse.self, nodeKey: key, coordinatorKey: coordinator,
                                             requestID: requestID)
        } catch {
            throw RelayNodesFetchError.badReply("\(error)")
        }
    }
}
