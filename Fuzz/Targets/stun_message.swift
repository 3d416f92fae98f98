// STUN (RFC 8489/5780) decoding as the node's netcheck and the coordinator's STUN server see it.
// First byte picks the mode:
//   0: the rest is one datagram: looksLikeSTUN, decode, MESSAGE-INTEGRITY check, re-encode + decode
//   1: the rest is an answer to a NetcheckProbe; bytes 8..<20 are overwritten with the probe's
//      own transaction id so the matching and address paths after decode are reached
import MeshCrypto
import MeshWire
import Netcheck
import WireGuard

private let integrityKey = Array("fuzz-integrity-key".utf8)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var r = FuzzReader(data, size)
    let mode = r.u8()
    var bytes = r.rest()
    if mode & 1 == 0 {
        _ = STUNMessage.looksLikeSTUN(bytes)
        _ = try? STUNMessage.verifyMessageIntegrity(bytes, key: integrityKey)
        if let m = try? STUNMessage.decode(bytes) {
            _ = m.reflexiveAddress
            // Whatever decodes must encode again, and that encoding must decode.
            let again = m.encode(fingerprint: mode & 2 != 0, integrityKey: mode & 4 != 0 ? integrityKey : nil,
                                 padding: mode >> 4)
            _ = try? STUNMessage.decode(again)
        }
        // Also as an ArraySlice (the decoder is generic over the collection).
        if bytes.count > 1 { _ = try? STUNMessage.decode(bytes.dropFirst()) }
    } else {
        var entropy = SeededEntropy(seed: 7)
        let servers = [UDPAddress(ipv4: 192, 0, 2, 1, port: 3478), UDPAddress(ipv4: 192, 0, 2, 1, port: 3479)]
        var probe = NetcheckProbe(stunServers: servers, now: MonotonicTime(nanoseconds: 0), entropy: &entropy)
        let sent = probe.poll(now: MonotonicTime(nanoseconds: 0))
        guard !sent.isEmpty else { return 0 }
        let which = Int(mode >> 1) % sent.count
        if bytes.count >= 20 {
            for i in 0..<12 { bytes[8 + i] = sent[which].bytes[8 + i] }
        }
        let from = mode & 0x80 != 0 ? UDPAddress(ipv4: 192, 0, 2, 1, port: 3479) : sent[which].to
        _ = probe.receive(bytes, from: from, now: MonotonicTime(nanoseconds: 5_000_000))
        _ = probe.isDone(now: MonotonicTime(nanoseconds: 5_000_000))
        _ = probe.result
    }
    return 0
}
