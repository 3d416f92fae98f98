import MeshCrypto

/// What became of a datagram handed to `Device.decapsulate`.
public enum ReceiveResult {
    /// A decrypted, authenticated inner IP packet sits at `offset..<offset+length` of the datagram buffer.
    case packet(Peer, offset: Int, length: Int)
    /// A handshake answer (response or cookie reply) of `length` bytes is in the reply buffer,
    /// for where the message came from (nil: a path without an address, the relay). `peer` is
    /// the peer it answers (nil for a cookie reply, sent before the sender is known).
    case reply(length: Int, to: UDPAddress?, peer: Peer?)
    case handshakeCompleted(Peer)
    case keepalive(Peer)
    /// Valid but nothing to hand on (a cookie reply was stored).
    case consumed
    case dropped(DropReason)
}

/// The receive path: one entry point for every message type, so the driver needs no protocol
/// knowledge to feed it datagrams (wireguard-go's receive.go and the consuming half of noise-protocol.go).
extension Device {
    /// Handles one datagram from `source` (nil: it came over a path without an address, such
    /// as the relay, which only a transport choosing paths has). Transport data is decrypted in
    /// place; handshake answers are written into `reply`. Never throws: bad input becomes
    /// `.dropped(reason)`.
    public func decapsulate(datagram: UnsafeMutableRawBufferPointer, from source: UDPAddress?, now: MonotonicTime,
                            wallClock: TAI64N, entropy: inout some EntropySource,
                            reply: UnsafeMutableRawBufferPointer) -> ReceiveResult {
        let msg = UnsafeRawBufferPointer(datagram)
        guard let type = MessageLayout.classify(msg) else { return .dropped(.malformed) }
        switch type {
        case .transport:
            return receiveTransport(datagram, from: source, now: now)
        case .cookieReply:
            guard let peer = self.peer(forReceiverIndex: msg.readLE32(MessageLayout.cookieReceiver)) else {
                return .dropped(.unknownIndex)
            }
            let ok = peer.lock.withLock { peer.cookies.consumeCookieReply(msg, now: now) }
            return ok ? .consumed : .dropped(.invalidCookieReply)
        case .initiation, .response:
            let verdict: (ok: Bool, cookieLength: Int, refusal: DropReason) = cookieLock.withLock {
                guard cookieChecker.checkMAC1(msg) else { return (false, 0, .invalidMAC1) }
                if now - loadWindowStart >= .seconds(1) {
                    loadWindowStart = now
                    handshakesInWindow = 0
                }
                handshakesInWindow += 1
                guard handshakesInWindow > underLoadThreshold else { return (true, 0, .invalidMAC1) }
                // Under load a handshake must prove its source address with a cookie. One that
                // came without an address (relayed) has none to prove and cannot be sent a
                // cookie reply: it waits until the load passes.
                guard let source else { return (false, 0, .cookieRequired) }
                if !cookieChecker.checkMAC2(msg, source: source, now: now, timers: timers, entropy: &entropy) {
                    let n = cookieChecker.writeCookieReply(to: msg, receiverIndex: msg.readLE32(4), source: source,
                                                           now: now, timers: timers, entropy: &entropy, into: reply)
                    return (false, n, .cookieRequired)
                }
                return (true, 0, .invalidMAC1)
            }
            if verdict.cookieLength > 0 { return .reply(length: verdict.cookieLength, to: source, peer: nil) }
            guard verdict.ok else { return .dropped(verdict.refusal) }
            return type == .initiation
                ? receiveInitiation(msg, from: source, now: now, entropy: &entropy, reply: reply)
                : receiveResponse(msg, from: source, now: now)
        }
    }

    /// The peer a response or transport message names, and whether its source may become that
    /// peer's endpoint (a relaxed atomic read, no second lock).
    @inline(__always)
    private func sender(forReceiverIndex idx: UInt32) -> (peer: Peer, roams: Bool)? {
        let roams = !pathsChosenByTransport
        return tableLock.withLock { indexTable[idx].map { (peer: $0, roams: roams) } }
    }

    private func receiveInitiation(_ msg: UnsafeRawBufferPointer, from source: UDPAddress?, now: MonotonicTime,
                                   entropy: inout some EntropySource, reply: UnsafeMutableRawBufferPointer) -> ReceiveResult {
        let consumed: ConsumedInitiation
        do { consumed = try NoiseHandshake.consumeInitiation(msg, localStatic: privateKey, localPublic: publicKey) } catch {
            return .dropped(.handshakeFailed)
        }
        let roams = !pathsChosenByTransport
        let known = tableLock.withLock { peersByKey[consumed.remoteStatic] }
        guard let peer = known else { return .dropped(.unknownPeer) }
        let ephemeral = PrivateKey.generate(using: &entropy)
        let newIndex = allocateIndex(for: peer, entropy: &entropy)
        let out = UnsafeMutableRawBufferPointer(rebasing: reply[0..<MessageLayout.responseSize])
        var released = LocalIndices()
        let outcome: ReceiveResult = peer.lock.withLock {
            guard consumed.timestamp > peer.latestInitiationTimestamp else { return .dropped(.replayedInitiation) }
            if let last = peer.latestInitiationConsumedAt, now - last < timers.handshakeInitiationRate {
                return .dropped(.initiationFlood)
            }
            guard let keys = try? NoiseHandshake.createResponse(to: consumed, presharedKey: peer.presharedKey,
                                                                localIndex: newIndex, ephemeral: ephemeral, into: out)
            else { return .dropped(.handshakeFailed) }
            peer.latestInitiationTimestamp = consumed.timestamp
            peer.latestInitiationConsumedAt = now
            peer.cookies.addMACs(out, now: now, timers: timers)
            released = peer.keypairs.responderCreated(
                Keypair(keys: keys, localIndex: newIndex, remoteIndex: consumed.remoteIndex, createdAt: now, isInitiator: false))
            if roams, let source { peer.endpoint = source }
            peer.lastHandshakeAt = now
            peer.zeroKeyMaterialAt = now + timers.rejectAfterTime * 3
            peer.newHandshakeAt = nil
            noteAuthenticatedSend(peer, now: now, isData: false)
            return .reply(length: MessageLayout.responseSize, to: source, peer: peer)
        }
        if case .dropped = outcome { releaseIndex(newIndex) }
        releaseIndices(released)
        return outcome
    }

    private func receiveResponse(_ msg: UnsafeRawBufferPointer, from source: UDPAddress?, now: MonotonicTime) -> ReceiveResult {
        let idx = msg.readLE32(MessageLayout.respReceiver)
        guard case let (peer, roams)? = sender(forReceiverIndex: idx) else { return .dropped(.unknownIndex) }
        var released = LocalIndices()
        let outcome: ReceiveResult = peer.lock.withLock {
            guard let pending = peer.keypairs.pendingInitiation(forReceiverIndex: idx) else { return .dropped(.unknownIndex) }
            guard let keys = try? NoiseHandshake.consumeResponse(msg, pending: pending, localStatic: privateKey,
                                                                 presharedKey: peer.presharedKey)
            else { return .dropped(.handshakeFailed) }
            released = peer.keypairs.initiatorConfirmed(
                Keypair(keys: keys, localIndex: idx, remoteIndex: msg.readLE32(MessageLayout.respSender),
                        createdAt: now, isInitiator: true))
            if roams, let source { peer.endpoint = source }
            peer.retransmitHandshakeAt = nil
            peer.handshakeAttempts = 0
            peer.sentLastMinuteHandshake = false
            peer.lastHandshakeAt = now
            peer.zeroKeyMaterialAt = now + timers.rejectAfterTime * 3
            peer.newHandshakeAt = nil
            // The responder may not send until it hears from us: flush staged data or a keepalive.
            peer.wantsFlush = true
            return .handshakeCompleted(peer)
        }
        releaseIndices(released)
        if case .handshakeCompleted = outcome { markFollowUp(peer) }
        return outcome
    }

    private func receiveTransport(_ datagram: UnsafeMutableRawBufferPointer, from source: UDPAddress?,
                                  now: MonotonicTime) -> ReceiveResult {
        let msg = UnsafeRawBufferPointer(datagram)
        let idx = msg.readLE32(MessageLayout.transportReceiver)
        let counter = msg.readLE64(MessageLayout.transportCounter)
        guard case let (peer, roams)? = sender(forReceiverIndex: idx) else { return .dropped(.unknownIndex) }
        var keypair: Keypair? = nil
        var early: DropReason? = nil
        peer.lock.withLock {
            guard let kp = peer.keypairs.session(forReceiverIndex: idx) else { early = .unknownIndex; return }
            guard now - kp.createdAt < timers.rejectAfterTime, counter < Protocol.rejectAfterMessages else {
                early = .expiredSession; return
            }
            guard kp.replay.mayAccept(counter) else { early = .replayed; return }
            keypair = kp
        }
        if let early { return .dropped(early) }
        let sealedLength = datagram.count - MessageLayout.transportHeaderSize
        let plain = keypair!.receiver.openInPlace(counter: counter, buffer: datagram.baseAddress! + MessageLayout.transportHeaderSize,
                                                  length: sealedLength)
        guard let plainLength = plain else { return .dropped(.decryptionFailed) }
        let kp = keypair!
        var released = LocalIndices()
        var followUp = false
        let accepted: Bool = peer.lock.withLock {
            guard kp.replay.accept(counter) else { return false }
            if let confirmed = peer.keypairs.confirmNext(receivedWith: kp) {
                // The initiator used the new session: it is confirmed, so it became current.
                released = confirmed
                if !peer.staged.isEmpty { peer.wantsFlush = true; followUp = true }
            }
            if roams, let source { peer.endpoint = source }
            peer.rxBytes &+= UInt64(datagram.count)
            peer.newHandshakeAt = nil
            if let pk = peer.persistentKeepalive { peer.persistentKeepaliveAt = now + pk }
            if plainLength > 0 {
                if peer.sendKeepaliveAt == nil { peer.sendKeepaliveAt = now + timers.keepaliveTimeout }
                else { peer.needAnotherKeepalive = true }
            }
            if kp === peer.keypairs.current, kp.isInitiator, !peer.sentLastMinuteHandshake,
               now - kp.createdAt >= timers.rejectAfterTime - timers.keepaliveTimeout - timers.rekeyTimeout {
                peer.sentLastMinuteHandshake = true
                peer.wantsHandshake = true
                followUp = true
            }
            return true
        }
        releaseIndices(released)
        if followUp { markFollowUp(peer) }
        guard accepted else { return .dropped(.replayed) }
        if plainLength == 0 { return .keepalive(peer) }

        let inner = UnsafeRawBufferPointer(rebasing: msg[MessageLayout.transportHeaderSize..<MessageLayout.transportHeaderSize + plainLength])
        let innerLength: Int
        switch inner[0] >> 4 {
        case 4 where plainLength >= 20:
            innerLength = Int(UInt16(inner[2]) << 8 | UInt16(inner[3]))
            guard innerLength >= 20, innerLength <= plainLength else { return .dropped(.invalidInnerPacket) }
        case 6 where plainLength >= 40:
            innerLength = 40 + Int(UInt16(inner[4]) << 8 | UInt16(inner[5]))
            guard innerLength <= plainLength else { return .dropped(.invalidInnerPacket) }
        default:
            return .dropped(.invalidInnerPacket)
        }
        let owner = tableLock.withLock {
            routes.lookup(packet: UnsafeRawBufferPointer(rebasing: inner[0..<innerLength]), source: true)
        }
        guard owner === peer else { return .dropped(.sourceNotAllowed) }
        return .packet(peer, offset: MessageLayout.transportHeaderSize, length: innerLength)
    }
}
