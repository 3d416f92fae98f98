import CheckedArithmetic
import Foundation
import MeshCrypto

// Sealing of control-protocol bodies (DESIGN.md section 7).
//
// A request travels as the JSON object
//     { "nodeKey": base64(node public key), "nonce": base64(24 bytes), "box": base64(...) }
// where box = crypto_box_easy(payload, nonce, coordinator public key, node private key) and the
// payload is the JSON object
//     { "ts": Unix milliseconds, "rid": base64(16 random bytes), "body": { ...the message... } }
// The coordinator refuses a payload whose timestamp is more than `maxClockSkew` away from its
// clock, and a request id it has already seen from that node key (see `ReplayGuard`).
//
// A reply travels as { "nonce": ..., "box": ... } sealed from the coordinator key to the node
// key, with a payload { "ts": ..., "rid": <the request's id>, "body": { ... } } so a node can
// tell that the answer belongs to its request. Errors are plain `ErrorBody` JSON, unsealed.
//
// Everything here is pure: clocks and random bytes are parameters.

/// The outer JSON of a sealed request.
public struct SealedRequestEnvelope: Codable, Sendable, Equatable {
    public var nodeKey: String
    public var nonce: String
    public var box: String

    public init(nodeKey: String, nonce: String, box: String) {
        self.nodeKey = nodeKey
        self.nonce = nonce
        self.box = box
    }
}

/// The outer JSON of a sealed reply.
public struct SealedReplyEnvelope: Codable, Sendable, Equatable {
    public var nonce: String
    public var box: String

    public init(nonce: String, box: String) {
        self.nonce = nonce
        self.box = box
    }
}

/// The plaintext inside a box.
public struct SealedPayload<Body: Codable>: Codable {
    public var ts: Int64
    public var rid: String
    public var body: Body
}

/// Only the header of a payload, decoded before the body is.
struct PayloadHeader: Codable {
    var ts: Int64
    var rid: String
}

/// Why a sealed message was refused; maps to an `ErrorBody`.
public struct SealError: Error, Equatable, CustomStringConvertible {
    public var code: ErrorCode
    public var message: String
    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { message }
    public var errorBody: ErrorBody { ErrorBody(code, message) }
}

/// A request whose box opened and whose timestamp is fresh; the body is still undecoded JSON.
public struct OpenedRequest: Sendable {
    /// The sender's key as the envelope carried it (32 bytes, checked when it was opened).
    public var nodeKeyBytes: [UInt8]
    public var nodeKey: PublicKey { try! PublicKey(rawBytes: nodeKeyBytes) }
    public var requestID: [UInt8]
    public var timestampMillis: Int64
    /// The plaintext payload (JSON); decode the body with `body(as:)`.
    public var payload: [UInt8]

    public func body<B: Codable>(as type: B.Type) throws -> B {
        do {
            return try JSONDecoder().decode(SealedPayload<B>.self, from: Data(payload)).body
        } catch {
            throw SealError(.badRequest, "request body does not match \(B.self): \(describe(error))")
        }
    }
}

public enum ControlSeal {
    /// Requests whose timestamp is further than this from the coordinator's clock are refused.
    public static let maxClockSkewMillis: Int64 = 60_000
    public static let requestIDLength = 16

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.withoutEscapingSlashes]
        return e
    }()

    // MARK: Node side

    /// Seals `body` for the coordinator. `requestID` must be 16 random bytes, `nonce` 24 random bytes.
    public static func sealRequest<B: Codable>(_ body: B, nodeKey: PrivateKey, coordinatorKey: PublicKey,
                                               nowMillis: Int64, requestID: [UInt8], nonce: [UInt8]) throws -> [UInt8] {
        precondition(requestID.count == requestIDLength && nonce.count == Box.nonceLength)
        let payload = SealedPayload(ts: nowMillis, rid: Base64.encode(requestID), body: body)
        let plain = try Array(encoder.encode(payload))
        guard let box = Box.seal(plain, nonce: nonce, to: coordinatorKey, from: nodeKey) else {
            throw SealError(.badSeal, "coordinator key is not a usable X25519 public key")
        }
        let env = SealedRequestEnvelope(nodeKey: nodeKey.publicKey.base64, nonce: Base64.encode(nonce),
                                        box: Base64.encode(box))
        return try Array(encoder.encode(env))
    }

    /// Opens a coordinator reply and checks it answers `requestID`.
    public static func openReply<B: Codable>(_ data: [UInt8], as type: B.Type, nodeKey: PrivateKey,
                                             coordinatorKey: PublicKey, requestID: [UInt8]) throws -> B {
        let env: SealedReplyEnvelope
        do { env = try JSONDecoder().decode(SealedReplyEnvelope.self, from: Data(data)) } catch {
            throw SealError(.malformedJSON, "reply is not a sealed envelope: \(describe(error))")
        }
        guard let nonce = Base64.decode(env.nonce), nonce.count == Box.nonceLength,
              let box = Base64.decode(env.box) else {
            throw SealError(.badEnvelope, "reply envelope has a bad nonce or box")
        }
        guard let plain = Box.open(box, nonce: nonce, from: coordinatorKey, to: nodeKey) else {
            throw SealError(.badSeal, "reply was not sealed by the coordinator key")
        }
        let payload: SealedPayload<B>
        do { payload = try JSONDecoder().decode(SealedPayload<B>.self, from: Data(plain)) } catch {
            throw SealError(.badRequest, "reply body does not match \(B.self): \(describe(error))")
        }
        guard Base64.decode(payload.rid) == requestID else {
            throw SealError(.replayedRequest, "reply answers another request")
        }
        return payload.body
    }

    // MARK: Coordinator side

    /// Parses the outer JSON of a request (no cryptography yet).
    public static func parseEnvelope(_ data: [UInt8]) throws -> (nodeKey: PublicKey, nonce: [UInt8], box: [UInt8]) {
        let env: SealedRequestEnvelope
        do { env = try JSONDecoder().decode(SealedRequestEnvelope.self, from: Data(data)) } catch let error as DecodingError {
            if case .dataCorrupted = error {
                throw SealError(.malformedJSON, "body is not valid JSON")
            }
            throw SealError(.badEnvelope,
                            "body is not a sealed envelope {\"nodeKey\",\"nonce\",\"box\"}: \(describe(error))")
        } catch {
            throw SealError(.malformedJSON, "body is not valid JSON")
        }
        guard let nodeKey = try? PublicKey(base64: env.nodeKey) else {
            throw SealError(.badEnvelope, "nodeKey is not a base64 32-byte key")
        }
        guard let nonce = Base64.decode(env.nonce), nonce.count == Box.nonceLength else {
            throw SealError(.badEnvelope, "nonce must be 24 bytes of base64")
        }
        guard let box = Base64.decode(env.box), box.count >= Box.tagLength else {
            throw SealError(.badEnvelope, "box is not base64 or too short")
        }
        return (nodeKey, nonce, box)
    }

    /// Opens a request box with the precomputed shared key of (node key, coordinator key) and
    /// checks the timestamp. The caller still checks the request id against its `ReplayGuard`.
    public static func openRequest(nodeKey: PublicKey, nonce: [UInt8], box: [UInt8], sharedKey: Box.SharedKey,
                                   nowMillis: Int64, maxSkewMillis: Int64 = maxClockSkewMillis) throws -> OpenedRequest {
        guard let plain = sharedKey.open(box, nonce: nonce) else {
            throw SealError(.badSeal, "box does not open: not sealed from this node key to this coordinator's key")
        }
        let header: PayloadHeader
        do { header = try JSONDecoder().decode(PayloadHeader.self, from: Data(plain)) } catch {
            throw SealError(.badRequest, "sealed payload lacks \"ts\" or \"rid\": \(describe(error))")
        }
        guard let rid = Base64.decode(header.rid), rid.count == requestIDLength else {
            throw SealError(.badRequest, "request id must be 16 bytes of base64")
        }
        // `ts` is any Int64 a stranger chose: the distance is taken without trapping.
        let skew = header.ts.absoluteDifference(from: nowMillis)
        guard skew <= UInt64(max(0, maxSkewMillis)) else {
            throw SealError(.staleRequest, "request timestamp is \(skew / 1000) s away from the coordinator's clock " +
                            "(limit \(maxSkewMillis / 1000) s): check the node's clock")
        }
        return OpenedRequest(nodeKeyBytes: nodeKey.rawBytes, requestID: rid, timestampMillis: header.ts, payload: plain)
    }

    /// Seals a reply to the node. `nonce` must be 24 random bytes.
    public static func sealReply<B: Codable>(_ body: B, requestID: [UInt8], sharedKey: Box.SharedKey,
                                             nowMillis: Int64, nonce: [UInt8]) throws -> [UInt8] {
        let payload = SealedPayload(ts: nowMillis, rid: Base64.encode(requestID), body: body)
        let plain = try Array(encoder.encode(payload))
        let box = sharedKey.seal(plain, nonce: nonce)
        return try Array(encoder.encode(SealedReplyEnvelope(nonce: Base64.encode(nonce), box: Base64.encode(box))))
    }
}

/// Remembers request ids seen within the clock-skew window, per node key, so a captured request
/// cannot be played again. Pure: the caller passes the time.
public struct ReplayGuard: Sendable {
    struct Entry: Hashable, Sendable {
        var key: PublicKey
        var rid0: UInt64
        var rid1: UInt64
    }

    private var seen: [Entry: Int64] = [:]  // → expiry (ms)
    private var lastPurge: Int64? = nil
    public let windowMillis: Int64
    public let capacity: Int

    public init(windowMillis: Int64 = ControlSeal.maxClockSkewMillis, capacity: Int = 2_000_000) {
        self.windowMillis = windowMillis
        self.capacity = capacity
    }

    public var count: Int { seen.count }

    public enum Verdict: Equatable, Sendable { case fresh, replayed, overloaded }

    /// Records the request id; `.replayed` when it was seen before.
    public mutating func check(nodeKey: PublicKey, requestID: [UInt8], timestampMillis: Int64, nowMillis: Int64) -> Verdict {
        precondition(requestID.count == ControlSeal.requestIDLength)
        if lastPurge.map({ nowMillis &- $0 > 5_000 || nowMillis < $0 }) ?? true || seen.count >= capacity {
            seen = seen.filter { $0.value >= nowMillis }
            lastPurge = nowMillis
            if seen.count >= capacity { return .overloaded }
        }
        var a: UInt64 = 0, b: UInt64 = 0
        for i in 0..<8 {
            a = a << 8 | UInt64(requestID[i])
            b = b << 8 | UInt64(requestID[8 + i])
        }
        let entry = Entry(key: nodeKey, rid0: a, rid1: b)
        if let expiry = seen[entry], expiry >= nowMillis { return .replayed }
        // Keep it until a replay would be refused as stale anyway.
        seen[entry] = max(timestampMillis, nowMillis).saturatingAdding(windowMillis)
        return .fresh
    }
}

func describe(_ error: Error) -> String {
    switch error {
    case DecodingError.keyNotFound(let key, let ctx):
        return "missing key \"\(path(ctx.codingPath + [key]))\""
    case DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx):
        return "wrong type at \"\(path(ctx.codingPath))\""
    case DecodingError.dataCorrupted(let ctx):
        return ctx.codingPath.isEmpty ? "not valid JSON" : "bad value at \"\(path(ctx.codingPath))\""
    default:
        return "\(error)"
    }
}

private func path(_ keys: [CodingKey]) -> String {
    keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
}
