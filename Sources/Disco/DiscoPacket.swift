import MeshCrypto
import MeshBase

/// The sealed envelope a disco message travels in:
/// magic "MESHDS" | sender disco key (32) | nonce (24) | crypto_box(message).
/// Sealing needs the receiver's disco key, so only peers in the netmap can talk disco to us.
public enum DiscoPacket {
    public static let magic: [UInt8] = Array("MESHDS".utf8)
    static let headerLength = 6 + 32 + 24
    /// Bytes a sealed packet adds to its message: header plus the box's tag.
    public static let overhead = headerLength + Box.tagLength
    /// Datagrams longer than this are not disco (pings pad up to path MTU probes at most).
    public static let maxLength = 9000

    public static func looksLikeDisco(_ bytes: some Collection<UInt8>) -> Bool {
        bytes.count >= headerLength + Box.tagLength && bytes.starts(with: magic)
    }

    /// The same for bytes in place, as the data path has them: concrete, so the check costs no
    /// allocation when called from another module (the generic one is not specialised there).
    public static func looksLikeDisco(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= headerLength + Box.tagLength else { return false }
        for i in magic.indices where bytes[i] != magic[i] { return false }
        return true
    }

    /// The size on the wire of `message` once sealed.
    public static func sealedLength(of message: DiscoMessage) -> Int { overhead + message.encodedLength }

    public static func seal(_ message: DiscoMessage, from sender: PrivateKey, to receiver: PublicKey,
                            entropy: inout some EntropySource) -> [UInt8]? {
        var nonce = [UInt8](repeating: 0, count: Box.nonceLength)
        nonce.withUnsafeMutableBytes { entropy.fill($0) }
        guard let box = Box.seal(message.encoded, nonce: nonce, to: receiver, from: sender) else { return nil }
        return magic + sender.publicKey.rawBytes + nonce + box
    }

    /// Seals with a precomputed shared key: no X25519 per packet. `sender` is our own disco
    /// public key, passed in because deriving it from the private key is itself an X25519.
    public static func seal(_ message: DiscoMessage, sender: PublicKey, shared: Box.SharedKey,
                            entropy: inout some EntropySource) -> [UInt8] {
        var nonce = [UInt8](repeating: 0, count: Box.nonceLength)
        nonce.withUnsafeMutableBytes { entropy.fill($0) }
        return seal(message, sender: sender, shared: shared, nonce: nonce)
    }

    /// The same with a nonce drawn earlier: a driver can take its random bytes under its lock
    /// and do the sealing after releasing it. `nonce` must be `Box.nonceLength` fresh random bytes.
    public static func seal(_ message: DiscoMessage, sender: PublicKey, shared: Box.SharedKey,
                            nonce: [UInt8]) -> [UInt8] {
        precondition(nonce.count == Box.nonceLength, "a disco nonce is \(Box.nonceLength) bytes")
        return magic + sender.rawBytes + nonce + shared.seal(message.encoded, nonce: nonce)
    }

    /// The sender's disco key, readable before opening, so the caller can look up whether it is a peer.
    public static func senderKey(_ bytes: [UInt8]) throws(DiscoError) -> PublicKey {
        guard looksLikeDisco(bytes) else { throw .notDisco }
        return try! PublicKey(rawBytes: bytes[6..<38])
    }

    /// The sender's disco key read in place, without copying the datagram: the first check on
    /// every disco datagram, so it must cost nanoseconds and allocate nothing. Nil when the
    /// datagram is not disco-shaped (bad magic, too short or too long).
    public static func senderKey(in datagram: UnsafeRawBufferPointer) -> PublicKey? {
        guard datagram.count >= headerLength + Box.tagLength, datagram.count <= maxLength else { return nil }
        for i in 0..<6 where datagram[i] != magic[i] { return nil }
        return PublicKey(bytes: datagram.loadUnaligned(fromByteOffset: 6, as: SIMD32<UInt8>.self))
    }

    public static func open(_ bytes: [UInt8], with receiver: PrivateKey) throws(DiscoError) -> (sender: PublicKey, message: DiscoMessage) {
        guard bytes.count <= maxLength else { throw .truncated }
        let sender = try senderKey(bytes)
        let nonce = Array(bytes[38..<62])
        guard let plain = Box.open(Array(bytes[62...]), nonce: nonce, from: sender, to: receiver) else {
            throw .cannotOpen
        }
        return (sender, try DiscoMessage.decode(plain))
    }

    /// Opens with the sender's precomputed shared key (the caller has looked the sender up by
    /// `senderKey(in:)`). Throws `.cannotOpen` for a bad seal, a decode error for a bad body.
    public static func open(_ datagram: UnsafeRawBufferPointer, shared: Box.SharedKey) throws(DiscoError) -> DiscoMessage {
        guard datagram.count >= headerLength + Box.tagLength, datagram.count <= maxLength else { throw .truncated }
        let nonce = Array(datagram[38..<62])
        guard let plain = shared.open(Array(datagram[62...]), nonce: nonce) else { throw .cannotOpen }
        return try DiscoMessage.decode(plain)
    }
}
