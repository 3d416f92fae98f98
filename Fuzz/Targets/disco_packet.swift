// Disco packets (magic | sender key | nonce | box(message)) as MagicSock receives them.
// First byte picks the mode:
//   even: the rest is the datagram: senderKey(in:), open with the receiver's private key, open
//         with the precomputed shared key of the one known sender
//   odd:  the rest is the message plaintext: the target seals it from the known sender with a
//         nonce taken from the input, then opens it both ways, so decode is reached on every input
// Keys are fixed; whatever decodes must re-encode to a message that decodes the same.
import Disco
import MeshCrypto
import WireGuard

private let receiver = try! PrivateKey(rawBytes: fixedKeyBytes(1))
private let sender = try! PrivateKey(rawBytes: fixedKeyBytes(2))
private let senderPublic = sender.publicKey
private let receiverPublic = receiver.publicKey
private let shared = Box.SharedKey(peer: senderPublic, own: receiver)!
private let senderShared = Box.SharedKey(peer: receiverPublic, own: sender)!

private func check(_ message: DiscoMessage) {
    _ = message.encodedLength
    guard let back = try? DiscoMessage.decode(message.encoded), back == message else {
        fatalError("disco message does not round-trip: \(message)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var r = FuzzReader(data, size)
    let mode = r.u8()
    let datagram: [UInt8]
    if mode & 1 == 0 {
        datagram = r.rest()
        if let m = try? DiscoMessage.decode(datagram) { check(m) }
    } else {
        var nonce = r.take(Box.nonceLength)
        nonce += [UInt8](repeating: 0, count: Box.nonceLength - nonce.count)
        let plain = r.rest()
        datagram = DiscoPacket.magic + senderPublic.rawBytes + nonce + senderShared.seal(plain, nonce: nonce)
        if let m = try? DiscoMessage.decode(plain) { check(m) }
    }
    _ = DiscoPacket.looksLikeDisco(datagram)
    _ = try? DiscoPacket.senderKey(datagram)
    let key = datagram.withUnsafeBytes { DiscoPacket.senderKey(in: $0) }
    if key == senderPublic || mode & 1 == 1 {
        if let m = try? datagram.withUnsafeBytes({ try DiscoPacket.open($0, shared: shared) }) { check(m) }
    }
    // The slow path (an X25519 per packet) only for a fraction of inputs, to keep the rate up.
    if mode & 6 == 6, let (from, m) = try? DiscoPacket.open(datagram, with: receiver) {
        // X25519 ignores bit 255 of a public key (RFC 7748 section 5), so the sender field with
        // that bit flipped opens the same box: the slow path reports the field as written. The
        // node's receive path looks senders up by these exact bytes, so an alias is just unknown.
        var canonical = from.rawBytes
        canonical[31] &= 0x7f
        guard canonical == senderPublic.rawBytes else { fatalError("opened a packet from an unexpected key") }
        check(m)
    }
    return 0
}
