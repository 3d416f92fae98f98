import MeshCrypto

/// Why a handshake message was refused. Each case is counted by the driver, never fatal.
public enum HandshakeError: Error, Equatable, Sendable {
    case decryptionFailed
    case unknownPeer
    case lowOrderPoint
    case replayedTimestamp
    case floodedInitiations
    case unexpectedResponse
}

/// Transport keys derived at the end of a handshake.
public struct SessionKeys: Sendable {
    public var send: SIMD32<UInt8>
    public var receive: SIMD32<UInt8>

    package init(send: SIMD32<UInt8>, receive: SIMD32<UInt8>) {
        self.send = send
        self.receive = receive
    }
}

/// What an initiator remembers between sending an initiation and receiving the response.
/// (`package`: the keypair rotation tests build these by hand.)
package struct PendingInitiation {
    package var localIndex: UInt32
    var ephemeral: PrivateKey
    var chainingKey: [UInt8]
    var hash: [UInt8]

    package init(localIndex: UInt32, ephemeral: PrivateKey, chainingKey: [UInt8], hash: [UInt8]) {
        self.localIndex = localIndex
        self.ephemeral = ephemeral
        self.chainingKey = chainingKey
        self.hash = hash
    }
}

/// What a responder learns from a valid initiation, before it knows which peer sent it.
public struct ConsumedInitiation {
    public var remoteStatic: PublicKey
    public var remoteIndex: UInt32
    public var remoteEphemeral: PublicKey
    public var timestamp: TAI64N
    var chainingKey: [UInt8]
    var hash: [UInt8]
}

/// Noise_IKpsk2 message construction and consumption, exactly as the whitepaper's section 5.4.
/// Every function is deterministic: ephemeral keys, indices and timestamps are arguments.
enum NoiseHandshake {
    static func hash(_ parts: [UInt8]...) -> [UInt8] {
        var h = BLAKE2s(outputLength: 32)
        for p in parts { h.update(p) }
        return h.finalize()
    }

    static func bytes(_ v: SIMD32<UInt8>) -> [UInt8] { (0..<32).map { v[$0] } }
    static func simd(_ b: [UInt8]) -> SIMD32<UInt8> {
        var v = SIMD32<UInt8>()
        for i in 0..<32 { v[i] = b[i] }
        return v
    }

    static let initialChainingKey: [UInt8] = hash(Protocol.construction)
    static let initialHashPrefix: [UInt8] = hash(initialChainingKey, Protocol.identifier)

    /// C and H before the first message, which depend only on the responder's static key.
    static func initialState(responderStatic: PublicKey) -> (chainingKey: [UInt8], hash: [UInt8]) {
        (initialChainingKey, hash(initialHashPrefix, responderStatic.rawBytes))
    }

    static func dh(_ priv: PrivateKey, _ pub: PublicKey) throws(HandshakeError) -> [UInt8] {
        do { return bytes(try X25519.sharedSecret(priv, pub)) } catch { throw .lowOrderPoint }
    }

    static func aead(_ key: [UInt8], _ plaintext: [UInt8], _ ad: [UInt8]) -> [UInt8] {
        ChaChaPoly.seal(key: simd(key), counter: 0, plaintext: plaintext, ad: ad)
    }

    static func unaead(_ key: [UInt8], _ ciphertext: [UInt8], _ ad: [UInt8]) throws(HandshakeError) -> [UInt8] {
        guard let p = ChaChaPoly.open(key: simd(key), counter: 0, ciphertext: ciphertext, ad: ad) else {
            throw .decryptionFailed
        }
        return p
    }

    /// Writes the initiation (without MACs) into `out` and returns the initiator's pending state.
    static func createInitiation(localStatic: PrivateKey, localPublic: PublicKey, remoteStatic: PublicKey,
                                 staticStatic: [UInt8], localIndex: UInt32, ephemeral: PrivateKey,
                                 timestamp: TAI64N, into out: UnsafeMutableRawBufferPointer) throws(HandshakeError) -> PendingInitiation {
        var (c, h) = initialState(responderStatic: remoteStatic)
        let ePub = ephemeral.publicKey.rawBytes
        c = HKDF.derive(chainingKey: c, input: ePub, outputs: 1)[0]
        h = hash(h, ePub)
        var kdf = HKDF.derive(chainingKey: c, input: try dh(ephemeral, remoteStatic), outputs: 2)
        c = kdf[0]
        let encryptedStatic = aead(kdf[1], localPublic.rawBytes, h)
        h = hash(h, encryptedStatic)
        kdf = HKDF.derive(chainingKey: c, input: staticStatic, outputs: 2)
        c = kdf[0]
        let encryptedTimestamp = aead(kdf[1], timestamp.encoded, h)
        h = hash(h, encryptedTimestamp)

        out.writeHeader(.initiation)
        out.writeLE32(localIndex, MessageLayout.initSender)
        out.write(ePub, MessageLayout.initEphemeral)
        out.write(encryptedStatic, MessageLayout.initStatic)
        out.write(encryptedTimestamp, MessageLayout.initTimestamp)
        return PendingInitiation(localIndex: localIndex, ephemeral: ephemeral, chainingKey: c, hash: h)
    }

    /// Opens an initiation addressed to `localStatic`; the caller then checks the sender is a known peer.
    static func consumeInitiation(_ msg: UnsafeRawBufferPointer, localStatic: PrivateKey,
                                  localPublic: PublicKey) throws(HandshakeError) -> ConsumedInitiation {
        var (c, h) = initialState(responderStatic: localPublic)
        let ePubBytes = msg.bytes(MessageLayout.initEphemeral, 32)
        let ePub = PublicKey(bytes: simd(ePubBytes))
        c = HKDF.derive(chainingKey: c, input: ePubBytes, outputs: 1)[0]
        h = hash(h, ePubBytes)
        var kdf = HKDF.derive(chainingKey: c, input: try dh(localStatic, ePub), outputs: 2)
        c = kdf[0]
        let encryptedStatic = msg.bytes(MessageLayout.initStatic, 48)
        let staticBytes = try unaead(kdf[1], encryptedStatic, h)
        h = hash(h, encryptedStatic)
        let remoteStatic = PublicKey(bytes: simd(staticBytes))
        kdf = HKDF.derive(chainingKey: c, input: try dh(localStatic, remoteStatic), outputs: 2)
        c = kdf[0]
        let encryptedTimestamp = msg.bytes(MessageLayout.initTimestamp, 28)
        let timestampBytes = try unaead(kdf[1], encryptedTimestamp, h)
        h = hash(h, encryptedTimestamp)
        return ConsumedInitiation(remoteStatic: remoteStatic, remoteIndex: msg.readLE32(MessageLayout.initSender),
                                  remoteEphemeral: ePub, timestamp: TAI64N(encoded: timestampBytes)!,
                                  chainingKey: c, hash: h)
    }

    /// Writes the response (without MACs) and returns the responder's transport keys.
    static func createResponse(to initiation: ConsumedInitiation, presharedKey: PresharedKey,
                               localIndex: UInt32, ephemeral: PrivateKey,
                               into out: UnsafeMutableRawBufferPointer) throws(HandshakeError) -> SessionKeys {
        var c = initiation.chainingKey, h = initiation.hash
        let ePub = ephemeral.publicKey.rawBytes
        c = HKDF.derive(chainingKey: c, input: ePub, outputs: 1)[0]
        h = hash(h, ePub)
        c = HKDF.derive(chainingKey: c, input: try dh(ephemeral, initiation.remoteEphemeral), outputs: 1)[0]
        c = HKDF.derive(chainingKey: c, input: try dh(ephemeral, initiation.remoteStatic), outputs: 1)[0]
        let kdf = HKDF.derive(chainingKey: c, input: presharedKey.rawBytes, outputs: 3)
        c = kdf[0]
        h = hash(h, kdf[1])
        let empty = aead(kdf[2], [], h)
        h = hash(h, empty)

        out.writeHeader(.response)
        out.writeLE32(localIndex, MessageLayout.respSender)
        out.writeLE32(initiation.remoteIndex, MessageLayout.respReceiver)
        out.write(ePub, MessageLayout.respEphemeral)
        out.write(empty, MessageLayout.respEmpty)
        let t = HKDF.derive(chainingKey: c, input: [], outputs: 2)
        return SessionKeys(send: simd(t[1]), receive: simd(t[0]))
    }

    /// Completes the initiator's side from a response; returns the initiator's transport keys.
    static func consumeResponse(_ msg: UnsafeRawBufferPointer, pending: PendingInitiation,
                                localStatic: PrivateKey, presharedKey: PresharedKey) throws(HandshakeError) -> SessionKeys {
        var c = pending.chainingKey, h = pending.hash
        let ePubBytes = msg.bytes(MessageLayout.respEphemeral, 32)
        let ePub = PublicKey(bytes: simd(ePubBytes))
        c = HKDF.derive(chainingKey: c, input: ePubBytes, outputs: 1)[0]
        h = hash(h, ePubBytes)
        c = HKDF.derive(chainingKey: c, input: try dh(pending.ephemeral, ePub), outputs: 1)[0]
        c = HKDF.derive(chainingKey: c, input: try dh(localStatic, ePub), outputs: 1)[0]
        let kdf = HKDF.derive(chainingKey: c, input: presharedKey.rawBytes, outputs: 3)
        c = kdf[0]
        h = hash(h, kdf[1])
        _ = try unaead(kdf[2], msg.bytes(MessageLayout.respEmpty, 16), h)
        let t = HKDF.derive(chainingKey: c, input: [], outputs: 2)
        return SessionKeys(send: simd(t[0]), receive: simd(t[1]))
    }
}
