import MeshCrypto

/// The sealed envelope a disco message travels in:
/// magic "MESHDS" | sender disco key (32) | nonce (24) | crypto_box(message).
/// Sealing needs the receiver's disco key, so only peers in the netmap can talk disco to us.
public enum DiscoPacket {
    public static let magic: [UInt8] = Array("MESHDS".utf8)
    static let headerLength = 6 + 32 + 24
    /// Datagrams longer than this are not disco (pings pad up to path MTU probes at most).
    public static let maxLength = 9000

    public static func looksLikeDisco(_ bytes: some Collection<UInt8>) -> Bool {
        bytes.count >= headerLength + Box.tagLength && bytes.starts(with: magic)
    }

    public static func seal(_ message: DiscoMessage, from sender: PrivateKey, to receiver: PublicKey,
                            entropy: inout some EntropySource) -> [UInt8]? {
        var nonce = [UInt8](repeating: 0, count: Box.nonceLength)
        nonce.withUnsafeMutableBytes { entropy.fill($0) }
        guard let box = Box.seal(message.encoded, nonce: nonce, to: receiver, from: sender) else { return nil }
        return magic + sender.publicKey.rawBytes + nonce + box
    }

    /// The sender's disco key, readable before opening, so the caller can look up whether it is a peer.
    public static func senderKey(_ bytes: [UInt8]) throws(DiscoError) -> PublicKey {
        guard looksLikeDisco(bytes) else { throw .notDisco }
        return try! PublicKey(rawBytes: bytes[6..<38])
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
}
