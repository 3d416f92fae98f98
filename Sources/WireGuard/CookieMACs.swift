import MeshCrypto

/// The sending half of WireGuard's DoS defence (whitepaper section 5.4.4): every handshake
/// message to a peer carries mac1 (proof we know the peer's public key) and, when the peer
/// has handed us a cookie in the last two minutes, mac2 (proof we own our source address).
struct CookieSender {
    let mac1Key: [UInt8]
    let cookieKey: [UInt8]
    var cookie: [UInt8]? = nil
    var cookieReceivedAt = MonotonicTime(nanoseconds: 0)
    var lastMAC1: [UInt8]? = nil

    init(remoteStatic: PublicKey) {
        mac1Key = NoiseHandshake.hash(Protocol.labelMAC1, remoteStatic.rawBytes)
        cookieKey = NoiseHandshake.hash(Protocol.labelCookie, remoteStatic.rawBytes)
    }

    /// Fills in the last 32 bytes of a handshake message.
    mutating func addMACs(_ msg: UnsafeMutableRawBufferPointer, now: MonotonicTime, timers: ProtocolTimers) {
        let mac1Offset = msg.count - 32
        let mac1 = BLAKE2s.hash(Array(msg[0..<mac1Offset]), key: mac1Key, outputLength: 16)
        msg.write(mac1, mac1Offset)
        lastMAC1 = mac1
        if let cookie, now - cookieReceivedAt < timers.cookieRefreshTime {
            let mac2 = BLAKE2s.hash(Array(msg[0..<mac1Offset + 16]), key: cookie, outputLength: 16)
            msg.write(mac2, mac1Offset + 16)
        } else {
            msg.write([UInt8](repeating: 0, count: 16), mac1Offset + 16)
        }
    }

    /// Stores the cookie from a cookie reply; false if it does not answer our last message.
    mutating func consumeCookieReply(_ msg: UnsafeRawBufferPointer, now: MonotonicTime) -> Bool {
        guard let lastMAC1 else { return false }
        guard let plain = XChaChaPoly.open(key: cookieKey, nonce: msg.bytes(MessageLayout.cookieNonce, 24),
                                           ciphertext: msg.bytes(MessageLayout.cookieSealed, 32), ad: lastMAC1)
        else { return false }
        cookie = plain
        cookieReceivedAt = now
        return true
    }
}

/// The receiving half: checks mac1 on everything, and when under load demands a valid mac2,
/// answering with a cookie reply instead of spending Diffie-Hellman work on the message.
struct CookieChecker {
    let mac1Key: [UInt8]
    let cookieKey: [UInt8]
    private var secret: [UInt8] = []
    private var secretSetAt = MonotonicTime(nanoseconds: Int64.min / 2)

    init(localPublic: PublicKey) {
        mac1Key = NoiseHandshake.hash(Protocol.labelMAC1, localPublic.rawBytes)
        cookieKey = NoiseHandshake.hash(Protocol.labelCookie, localPublic.rawBytes)
    }

    func checkMAC1(_ msg: UnsafeRawBufferPointer) -> Bool {
        let off = msg.count - 32
        let expected = BLAKE2s.hash(Array(msg[0..<off]), key: mac1Key, outputLength: 16)
        return constantTimeEqual(expected, msg.bytes(off, 16))
    }

    /// The cookie for a source address under the current secret, which changes every two minutes.
    private mutating func cookie(for source: UDPAddress, now: MonotonicTime, timers: ProtocolTimers,
                                 entropy: inout some EntropySource) -> [UInt8] {
        if now - secretSetAt >= timers.cookieRefreshTime || secret.isEmpty {
            var s = [UInt8](repeating: 0, count: 32)
            s.withUnsafeMutableBytes { entropy.fill($0) }
            secret = s
            secretSetAt = now
        }
        return BLAKE2s.hash(source.addressBytes + [UInt8(source.port >> 8), UInt8(source.port & 0xff)],
                            key: secret, outputLength: 16)
    }

    mutating func checkMAC2(_ msg: UnsafeRawBufferPointer, source: UDPAddress, now: MonotonicTime,
                            timers: ProtocolTimers, entropy: inout some EntropySource) -> Bool {
        let off = msg.count - 16
        let c = cookie(for: source, now: now, timers: timers, entropy: &entropy)
        let expected = BLAKE2s.hash(Array(msg[0..<off]), key: c, outputLength: 16)
        return constantTimeEqual(expected, msg.bytes(off, 16))
    }

    /// Writes a cookie reply to a handshake message `msg` whose sender index is `receiverIndex`.
    mutating func writeCookieReply(to msg: UnsafeRawBufferPointer, receiverIndex: UInt32, source: UDPAddress,
                                   now: MonotonicTime, timers: ProtocolTimers, entropy: inout some EntropySource,
                                   into out: UnsafeMutableRawBufferPointer) -> Int {
        let c = cookie(for: source, now: now, timers: timers, entropy: &entropy)
        var nonce = [UInt8](repeating: 0, count: 24)
        nonce.withUnsafeMutableBytes { entropy.fill($0) }
        let mac1 = msg.bytes(msg.count - 32, 16)
        let sealed = XChaChaPoly.seal(key: cookieKey, nonce: nonce, plaintext: c, ad: mac1)
        out.writeHeader(.cookieReply)
        out.writeLE32(receiverIndex, MessageLayout.cookieReceiver)
        out.write(nonce, MessageLayout.cookieNonce)
        out.write(sealed, MessageLayout.cookieSealed)
        return MessageLayout.cookieReplySize
    }
}

@inline(__always)
func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var diff: UInt8 = 0
    for i in 0..<a.count { diff |= a[i] ^ b[i] }
    return diff == 0
}
