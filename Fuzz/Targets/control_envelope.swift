// The coordinator's sealed control protocol (MeshWire/SealedEnvelope.swift, ControlMessages.swift).
// First byte picks the mode (low two bits):
//   0: the rest is a request envelope JSON as the coordinator receives it: parseEnvelope, then
//      (for the one known node key) openRequest with the real shared key
//   1: the rest is the request plaintext: the target seals it from the known node key with a
//      fixed nonce, wraps it in an envelope, and runs the coordinator's whole path: parseEnvelope,
//      openRequest (clock fixed at the seeds' timestamp), ReplayGuard, body(as:) of each request type
//   2: the rest is a reply plaintext sealed by the coordinator: the node's openReply of each type
//   3: the rest is bare JSON decoded as every control message type
import Foundation
import MeshCrypto
import MeshWire

private let nodeKey = try! PrivateKey(rawBytes: fixedKeyBytes(3))
private let coordKey = try! PrivateKey(rawBytes: fixedKeyBytes(4))
private let nodePublic = nodeKey.publicKey
private let coordPublic = coordKey.publicKey
/// The coordinator's precomputed key for this node, and the node's for the coordinator.
private let coordShared = Box.SharedKey(peer: nodePublic, own: coordKey)!
private let nodeShared = Box.SharedKey(peer: coordPublic, own: nodeKey)!
/// The fixed clock; seed plaintexts carry this timestamp.
let fuzzNowMillis: Int64 = 1_700_000_000_000
let fuzzRequestID: [UInt8] = Array(0..<16)
private let nonce: [UInt8] = Array(100..<124)

private func decodeBodies(_ opened: OpenedRequest) {
    _ = try? opened.body(as: RegisterRequest.self)
    _ = try? opened.body(as: MapRequest.self)
    _ = try? opened.body(as: EndpointsRequest.self)
    _ = try? opened.body(as: LogoutRequest.self)
    if let e = try? opened.body(as: EndpointsRequest.self) {
        for s in e.endpoints.prefix(EndpointSyntax.maxEndpoints) { _ = EndpointSyntax.isValid(s) }
    }
    if let m = try? opened.body(as: MapRequest.self), let eps = m.endpoints {
        for s in eps.prefix(EndpointSyntax.maxEndpoints) { _ = EndpointSyntax.isValid(s) }
    }
}

private func coordinatorPath(_ envelope: [UInt8], guardCapacity: Int) {
    guard let (key, n, box) = try? ControlSeal.parseEnvelope(envelope) else { return }
    guard key == nodePublic else { return }
    guard let opened = try? ControlSeal.openRequest(nodeKey: key, nonce: n, box: box, sharedKey: coordShared,
                                                    nowMillis: fuzzNowMillis) else { return }
    var replay = ReplayGuard(capacity: guardCapacity)
    guard replay.check(nodeKey: opened.nodeKey, requestID: opened.requestID, timestampMillis: opened.timestampMillis,
                       nowMillis: fuzzNowMillis) == .fresh,
          replay.check(nodeKey: opened.nodeKey, requestID: opened.requestID, timestampMillis: opened.timestampMillis,
                       nowMillis: fuzzNowMillis) != .fresh
    else { fatalError("replay guard accepted one request id twice") }
    decodeBodies(opened)
}

private func decodeAll(_ json: [UInt8]) {
    let d = Data(json), dec = JSONDecoder()
    _ = try? dec.decode(RegisterRequest.self, from: d)
    _ = try? dec.decode(RegisterResponse.self, from: d)
    _ = try? dec.decode(MapRequest.self, from: d)
    _ = try? dec.decode(MapResponse.self, from: d)
    _ = try? dec.decode(EndpointsRequest.self, from: d)
    _ = try? dec.decode(EndpointsResponse.self, from: d)
    _ = try? dec.decode(LogoutRequest.self, from: d)
    _ = try? dec.decode(ErrorBody.self, from: d)
    _ = try? dec.decode(SealedReplyEnvelope.self, from: d)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var r = FuzzReader(data, size)
    let mode = r.u8()
    let rest = r.rest()
    switch mode & 3 {
    case 0:
        coordinatorPath(rest, guardCapacity: 1 + Int(mode >> 2))
    case 1:
        let box = nodeShared.seal(rest, nonce: nonce)
        let env = SealedRequestEnvelope(nodeKey: nodePublic.base64, nonce: Base64.encode(nonce), box: Base64.encode(box))
        guard let json = try? JSONEncoder().encode(env) else { fatalError("envelope does not encode") }
        coordinatorPath(Array(json), guardCapacity: 1 + Int(mode >> 2))
    case 2:
        let box = coordShared.seal(rest, nonce: nonce)
        let env = SealedReplyEnvelope(nonce: Base64.encode(nonce), box: Base64.encode(box))
        guard let json = try? JSONEncoder().encode(env) else { fatalError("envelope does not encode") }
        let reply = Array(json)
        func open<B: Codable>(_ t: B.Type) {
            _ = try? ControlSeal.openReply(reply, as: t, nodeKey: nodeKey, coordinatorKey: coordPublic,
                                           requestID: fuzzRequestID)
        }
        open(RegisterResponse.self)
        open(MapResponse.self)
        open(EndpointsResponse.self)
        open(LogoutResponse.self)
    default:
        decodeAll(rest)
        _ = try? ControlSeal.openReply(rest, as: MapResponse.self, nodeKey: nodeKey, coordinatorKey: coordPublic,
                                       requestID: fuzzRequestID)
    }
    return 0
}
