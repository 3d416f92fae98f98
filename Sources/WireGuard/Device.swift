import MeshCrypto

/// What became of a packet handed to `Device.encapsulate`.
public enum EncapsulateResult: Equatable, Sendable {
    /// A transport message of `length` bytes is at the start of the buffer; send it to `to`.
    case send(length: Int, to: UDPAddress)
    /// No session yet: the packet is kept until a handshake completes (one was asked for).
    case staged
    case dropped(DropReason)
}

/// What became of a datagram handed to `Device.decapsulate`.
public enum ReceiveResult {
    /// A decrypted, authenticated inner IP packet sits at `offset..<offset+length` of the datagram buffer.
    case packet(Peer, offset: Int, length: Int)
    /// A handshake answer (response or cookie reply) of `length` bytes is in the reply buffer.
    /// `peer` is the peer it answers (nil for a cookie reply, sent before the sender is known).
    case reply(length: Int, to: UDPAddress, peer: Peer?)
    case handshakeCompleted(Peer)
    case keepalive(Peer)
    /// Valid but nothing to hand on (a cookie reply was stored).
    case consumed
    case dropped(DropReason)
}

/// A datagram the device wants sent to a peer, handed to the driver's send callback. The peer
/// comes along so a driver that chooses paths itself (direct or relay) can route it.
public typealias DatagramSink = (UnsafeRawBufferPointer, UDPAddress, Peer) -> Void

/// The WireGuard protocol for one local identity and its peers, with no I/O: the driver feeds
/// it IP packets from the TUN and datagrams from the socket, passes in the time and random bytes,
/// and sends or writes whatever it returns. Safe to call from several threads at once.
public final class Device: @unchecked Sendable {
    public let privateKey: PrivateKey
    public let publicKey: PublicKey
    public let timers: ProtocolTimers
    /// Inner MTU: packets are padded up to a multiple of 16 but never past it.
    public let mtu: Int
    /// Handshake messages per second above which we demand cookies (mac2) before doing DH work.
    public let underLoadThreshold: Int

    private let tableLock = Lock()
    private var peersByKey: [PublicKey: Peer] = [:]
    private var routes = AllowedIPs<Peer>()
    private var indexTable: [UInt32: Peer] = [:]
    private var followUps: [ObjectIdentifier: Peer] = [:]

    private let cookieLock = Lock()
    private var cookieChecker: CookieChecker
    private var loadWindowStart = MonotonicTime(nanoseconds: Int64.min / 2)
    private var handshakesInWindow = 0

    public init(privateKey: PrivateKey, mtu: Int = 1280, timers: ProtocolTimers = .standard,
                underLoadThreshold: Int = 1000) {
        _ = Sodium.isReady
        self.privateKey = privateKey
        self.publicKey = privateKey.publicKey
        self.timers = timers
        self.mtu = mtu
        self.underLoadThreshold = underLoadThreshold
        self.cookieChecker = CookieChecker(localPublic: publicKey)
    }

    // MARK: Configuration

    public struct PeerConfigurationError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Adds a peer, or updates its endpoint, keepalive and routes if it exists.
    @discardableResult
    public func addPeer(publicKey: PublicKey, presharedKey: PresharedKey? = nil, endpoint: UDPAddress? = nil,
                        persistentKeepalive: Duration? = nil, allowedIPs: [(address: [UInt8], prefixLength: Int)] = [],
                        now: MonotonicTime) throws -> Peer {
        guard publicKey != self.publicKey else { throw PeerConfigurationError(description: "a peer cannot have our own public key") }
        let ss: [UInt8]
        do { ss = NoiseHandshake.bytes(try X25519.sharedSecret(privateKey, publicKey)) } catch {
            throw PeerConfigurationError(description: "peer public key \(publicKey) is a low-order point")
        }
        let peer: Peer = tableLock.withLock {
            if let existing = peersByKey[publicKey] { return existing }
            let p = Peer(publicKey: publicKey, presharedKey: presharedKey ?? .zero, staticStatic: ss)
            peersByKey[publicKey] = p
            return p
        }
        peer.lock.withLock {
            if let endpoint { peer.endpoint = endpoint }
            peer.persistentKeepalive = persistentKeepalive
            // Like wg-quick: a peer with a persistent keepalive is contacted at once.
            peer.persistentKeepaliveAt = persistentKeepalive == nil ? nil : now
        }
        tableLock.withLock {
            routes.removeAll(for: peer)
            for r in allowedIPs { routes.insert(address: r.address, prefixLength: r.prefixLength, value: peer) }
        }
        return peer
    }

    public func removePeer(_ publicKey: PublicKey) {
        tableLock.withLock {
            guard let peer = peersByKey.removeValue(forKey: publicKey) else { return }
            routes.removeAll(for: peer)
            for idx in peer.lock.withLock({ peer.allLocalIndices }) { indexTable[idx] = nil }
            followUps[ObjectIdentifier(peer)] = nil
        }
    }

    public func peer(for key: PublicKey) -> Peer? { tableLock.withLock { peersByKey[key] } }
    public var peers: [Peer] { tableLock.withLock { Array(peersByKey.values) } }

    /// Cryptokey routing, outbound: the peer whose allowed IPs hold the packet's destination.
    @inline(__always)
    public func route(packet: UnsafeRawBufferPointer) -> Peer? {
        tableLock.withLock { routes.lookup(packet: packet, source: false) }
    }

    // MARK: Sending

    /// Bytes a buffer needs for a `packetLength`-byte packet: header, padding and tag.
    public func transportSize(forPacketLength n: Int) -> Int {
        MessageLayout.transportHeaderSize + paddedLength(n) + MessageLayout.tagSize
    }

    @inline(__always)
    func paddedLength(_ n: Int) -> Int {
        let rounded = (n + 15) & ~15
        return n > mtu ? n : min(rounded, mtu)
    }

    /// Seals the IP packet found at `buffer[16..<16+packetLength]` in place into a transport message.
    public func encapsulate(peer: Peer, buffer: UnsafeMutableRawBufferPointer, packetLength: Int,
                            now: MonotonicTime) -> EncapsulateResult {
        let padded = paddedLength(packetLength)
        guard MessageLayout.transportHeaderSize + padded + MessageLayout.tagSize <= buffer.count else {
            return .dropped(.packetTooLarge)
        }
        var key = SIMD32<UInt8>()
        var counter: UInt64 = 0
        var remoteIndex: UInt32 = 0
        var destination: UDPAddress? = nil
        var outcome: EncapsulateResult? = nil
        var rekeyDue = false
        let total = MessageLayout.transportHeaderSize + padded + MessageLayout.tagSize
        peer.lock.withLock {
            guard let endpoint = peer.endpoint else { outcome = .dropped(.noEndpoint); return }
            guard let kp = peer.current, kp.isUsable(now: now, timers: timers) else {
                if packetLength > 0 {
                    if peer.staged.count >= Peer.maxStagedPackets { peer.staged.removeFirst() }
                    peer.staged.append(Array(UnsafeRawBufferPointer(rebasing: buffer[16..<16 + packetLength])))
                }
                peer.wantsHandshake = true
                outcome = .staged
                return
            }
            counter = kp.sendCounter
            kp.sendCounter += 1
            key = kp.sendKey
            remoteIndex = kp.remoteIndex
            destination = endpoint
            peer.txBytes &+= UInt64(total)
            noteAuthenticatedSend(peer, now: now, isData: packetLength > 0)
            if counter + 1 >= Protocol.rekeyAfterMessages || (kp.isInitiator && now - kp.createdAt >= timers.rekeyAfterTime) {
                peer.wantsHandshake = true
                rekeyDue = true
            }
        }
        if let outcome {
            if outcome == .staged { markFollowUp(peer) }
            return outcome
        }
        if padded > packetLength {
            (buffer.baseAddress! + 16 + packetLength).initializeMemory(as: UInt8.self, repeating: 0, count: padded - packetLength)
        }
        buffer.writeHeader(.transport)
        buffer.writeLE32(remoteIndex, MessageLayout.transportReceiver)
        buffer.writeLE64(counter, MessageLayout.transportCounter)
        withUnsafeBytes(of: &key) { k in
            ChaChaPoly.sealInPlace(key: k.baseAddress!, counter: counter, buffer: buffer.baseAddress! + 16, length: padded)
        }
        if rekeyDue { markFollowUp(peer) }
        return .send(length: total, to: destination!)
    }

    /// Timer bookkeeping for any authenticated packet we send (whitepaper 6.2-6.5).
    private func noteAuthenticatedSend(_ peer: Peer, now: MonotonicTime, isData: Bool) {
        peer.sendKeepaliveAt = nil
        if isData && peer.newHandshakeAt == nil {
            peer.newHandshakeAt = now + timers.keepaliveTimeout + timers.rekeyTimeout
        }
        if let pk = peer.persistentKeepalive { peer.persistentKeepaliveAt = now + pk }
    }

    /// Writes a handshake initiation to `peer` into `out` if one may be sent now (at most one per
    /// REKEY_TIMEOUT unless `force`). Returns its length and destination.
    public func createInitiation(peer: Peer, now: MonotonicTime, wallClock: TAI64N, entropy: inout some EntropySource,
                                 into out: UnsafeMutableRawBufferPointer, force: Bool = false) -> (length: Int, to: UDPAddress)? {
        precondition(out.count >= MessageLayout.initiationSize)
        let msg = UnsafeMutableRawBufferPointer(rebasing: out[0..<MessageLayout.initiationSize])
        let ephemeral = PrivateKey.generate(using: &entropy)
        let newIndex = allocateIndex(for: peer, entropy: &entropy)
        let result: (Int, UDPAddress)? = peer.lock.withLock {
            guard let endpoint = peer.endpoint else { return nil }
            if !force, let last = peer.lastInitiationSentAt, now - last < timers.rekeyTimeout { return nil }
            guard let pending = try? NoiseHandshake.createInitiation(
                localStatic: privateKey, localPublic: publicKey, remoteStatic: peer.publicKey,
                staticStatic: peer.staticStatic, localIndex: newIndex, ephemeral: ephemeral,
                timestamp: wallClock, into: msg) else { return nil }
            if let old = peer.pending { releaseIndex(old.localIndex) }
            peer.pending = pending
            peer.cookies.addMACs(msg, now: now, timers: timers)
            if !force { peer.handshakeAttempts = 0 }  // a fresh attempt, not a retransmission
            peer.lastInitiationSentAt = now
            let jitter = Duration.milliseconds(Int64(entropy.nextUInt32() % 334))
            peer.retransmitHandshakeAt = now + timers.rekeyTimeout + jitter
            peer.wantsHandshake = false
            noteAuthenticatedSend(peer, now: now, isData: false)
            return (MessageLayout.initiationSize, endpoint)
        }
        if result == nil || peer.lock.withLock({ peer.pending?.localIndex != newIndex }) { releaseIndex(newIndex) }
        return result.map { (length: $0.0, to: $0.1) }
    }

    private func allocateIndex(for peer: Peer, entropy: inout some EntropySource) -> UInt32 {
        tableLock.withLock {
            while true {
                let idx = entropy.nextUInt32()
                if indexTable[idx] == nil {
                    indexTable[idx] = peer
                    return idx
                }
            }
        }
    }

    private func releaseIndex(_ idx: UInt32) { tableLock.withLock { indexTable[idx] = nil } }

    // MARK: Receiving

    /// Handles one datagram from `source`. Transport data is decrypted in place; handshake
    /// answers are written into `reply`. Never throws: bad input becomes `.dropped(reason)`.
    public func decapsulate(datagram: UnsafeMutableRawBufferPointer, from source: UDPAddress, now: MonotonicTime,
                            wallClock: TAI64N, entropy: inout some EntropySource,
                            reply: UnsafeMutableRawBufferPointer) -> ReceiveResult {
        let msg = UnsafeRawBufferPointer(datagram)
        guard let type = MessageLayout.classify(msg) else { return .dropped(.malformed) }
        switch type {
        case .transport:
            return receiveTransport(datagram, from: source, now: now)
        case .cookieReply:
            guard let peer = tableLock.withLock({ indexTable[msg.readLE32(MessageLayout.cookieReceiver)] }) else {
                return .dropped(.unknownIndex)
            }
            let ok = peer.lock.withLock { peer.cookies.consumeCookieReply(msg, now: now) }
            return ok ? .consumed : .dropped(.invalidCookieReply)
        case .initiation, .response:
            let verdict: (ok: Bool, cookieLength: Int) = cookieLock.withLock {
                guard cookieChecker.checkMAC1(msg) else { return (false, 0) }
                if now - loadWindowStart >= .seconds(1) {
                    loadWindowStart = now
                    handshakesInWindow = 0
                }
                handshakesInWindow += 1
                if handshakesInWindow > underLoadThreshold,
                   !cookieChecker.checkMAC2(msg, source: source, now: now, timers: timers, entropy: &entropy) {
                    let n = cookieChecker.writeCookieReply(to: msg, receiverIndex: msg.readLE32(4), source: source,
                                                           now: now, timers: timers, entropy: &entropy, into: reply)
                    return (false, n)
                }
                return (true, 0)
            }
            if verdict.cookieLength > 0 { return .reply(length: verdict.cookieLength, to: source, peer: nil) }
            guard verdict.ok else { return .dropped(.invalidMAC1) }
            return type == .initiation
                ? receiveInitiation(msg, from: source, now: now, entropy: &entropy, reply: reply)
                : receiveResponse(msg, from: source, now: now)
        }
    }

    private func receiveInitiation(_ msg: UnsafeRawBufferPointer, from source: UDPAddress, now: MonotonicTime,
                                   entropy: inout some EntropySource, reply: UnsafeMutableRawBufferPointer) -> ReceiveResult {
        let consumed: ConsumedInitiation
        do { consumed = try NoiseHandshake.consumeInitiation(msg, localStatic: privateKey, localPublic: publicKey) } catch {
            return .dropped(.handshakeFailed)
        }
        guard let peer = tableLock.withLock({ peersByKey[consumed.remoteStatic] }) else { return .dropped(.unknownPeer) }
        let ephemeral = PrivateKey.generate(using: &entropy)
        let newIndex = allocateIndex(for: peer, entropy: &entropy)
        let out = UnsafeMutableRawBufferPointer(rebasing: reply[0..<MessageLayout.responseSize])
        var released: [UInt32] = []
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
            if let n = peer.next { released.append(n.localIndex) }
            if let p = peer.previous { released.append(p.localIndex) }
            peer.previous = nil
            peer.next = Keypair(keys: keys, localIndex: newIndex, remoteIndex: consumed.remoteIndex,
                                createdAt: now, isInitiator: false)
            peer.endpoint = source
            peer.lastHandshakeAt = now
            peer.zeroKeyMaterialAt = now + timers.rejectAfterTime * 3
            peer.newHandshakeAt = nil
            noteAuthenticatedSend(peer, now: now, isData: false)
            return .reply(length: MessageLayout.responseSize, to: source, peer: peer)
        }
        if case .dropped = outcome { released.append(newIndex) }
        for idx in released { releaseIndex(idx) }
        return outcome
    }

    private func receiveResponse(_ msg: UnsafeRawBufferPointer, from source: UDPAddress, now: MonotonicTime) -> ReceiveResult {
        let idx = msg.readLE32(MessageLayout.respReceiver)
        guard let peer = tableLock.withLock({ indexTable[idx] }) else { return .dropped(.unknownIndex) }
        var released: [UInt32] = []
        let outcome: ReceiveResult = peer.lock.withLock {
            guard let pending = peer.pending, pending.localIndex == idx else { return .dropped(.unknownIndex) }
            guard let keys = try? NoiseHandshake.consumeResponse(msg, pending: pending, localStatic: privateKey,
                                                                 presharedKey: peer.presharedKey)
            else { return .dropped(.handshakeFailed) }
            if let p = peer.previous { released.append(p.localIndex) }
            if let n = peer.next { released.append(n.localIndex) }
            peer.next = nil
            peer.previous = peer.current
            peer.current = Keypair(keys: keys, localIndex: idx, remoteIndex: msg.readLE32(MessageLayout.respSender),
                                   createdAt: now, isInitiator: true)
            peer.pending = nil
            peer.endpoint = source
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
        for i in released { releaseIndex(i) }
        if case .handshakeCompleted = outcome { markFollowUp(peer) }
        return outcome
    }

    private func receiveTransport(_ datagram: UnsafeMutableRawBufferPointer, from source: UDPAddress,
                                  now: MonotonicTime) -> ReceiveResult {
        let msg = UnsafeRawBufferPointer(datagram)
        let idx = msg.readLE32(MessageLayout.transportReceiver)
        let counter = msg.readLE64(MessageLayout.transportCounter)
        guard let peer = tableLock.withLock({ indexTable[idx] }) else { return .dropped(.unknownIndex) }
        var key = SIMD32<UInt8>()
        var keypair: Keypair? = nil
        var early: DropReason? = nil
        peer.lock.withLock {
            let kp: Keypair?
            if let c = peer.current, c.localIndex == idx { kp = c }
            else if let n = peer.next, n.localIndex == idx { kp = n }
            else if let p = peer.previous, p.localIndex == idx { kp = p }
            else { kp = nil }
            guard let kp else { early = .unknownIndex; return }
            guard now - kp.createdAt < timers.rejectAfterTime, counter < Protocol.rejectAfterMessages else {
                early = .expiredSession; return
            }
            guard kp.replay.mayAccept(counter) else { early = .replayed; return }
            key = kp.receiveKey
            keypair = kp
        }
        if let early { return .dropped(early) }
        let sealedLength = datagram.count - MessageLayout.transportHeaderSize
        let plain = withUnsafeBytes(of: &key) { k in
            ChaChaPoly.openInPlace(key: k.baseAddress!, counter: counter,
                                   buffer: datagram.baseAddress! + MessageLayout.transportHeaderSize, length: sealedLength)
        }
        guard let plainLength = plain else { return .dropped(.decryptionFailed) }
        let kp = keypair!
        var released: UInt32? = nil
        var followUp = false
        let accepted: Bool = peer.lock.withLock {
            guard kp.replay.accept(counter) else { return false }
            if kp === peer.next {
                // The initiator used the new session: it is confirmed, so it becomes current.
                released = peer.previous?.localIndex
                peer.previous = peer.current
                peer.current = kp
                peer.next = nil
                if !peer.staged.isEmpty { peer.wantsFlush = true; followUp = true }
            }
            peer.endpoint = source
            peer.rxBytes &+= UInt64(datagram.count)
            peer.newHandshakeAt = nil
            if let pk = peer.persistentKeepalive { peer.persistentKeepaliveAt = now + pk }
            if plainLength > 0 {
                if peer.sendKeepaliveAt == nil { peer.sendKeepaliveAt = now + timers.keepaliveTimeout }
                else { peer.needAnotherKeepalive = true }
            }
            if kp === peer.current, kp.isInitiator, !peer.sentLastMinuteHandshake,
               now - kp.createdAt >= timers.rejectAfterTime - timers.keepaliveTimeout - timers.rekeyTimeout {
                peer.sentLastMinuteHandshake = true
                peer.wantsHandshake = true
                followUp = true
            }
            return true
        }
        if let released { releaseIndex(released) }
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

    // MARK: Follow-ups and timers

    private func markFollowUp(_ peer: Peer) {
        tableLock.withLock { followUps[ObjectIdentifier(peer)] = peer }
    }

    /// True if some peer has work queued by the last calls (cheap; check after each batch).
    public var hasFollowUps: Bool { tableLock.withLock { !followUps.isEmpty } }

    /// Sends what the data path deferred: handshakes it asked for, and staged packets (or a
    /// confirming keepalive) once a session is ready. `buffer` is scratch space of at least MTU + 64 bytes.
    public func serviceFollowUps(now: MonotonicTime, wallClock: TAI64N, entropy: inout some EntropySource,
                                 buffer: UnsafeMutableRawBufferPointer, send: DatagramSink) {
        let due: [Peer] = tableLock.withLock {
            if followUps.isEmpty { return [] }
            let list = Array(followUps.values)
            followUps.removeAll(keepingCapacity: true)
            return list
        }
        for peer in due { service(peer, now: now, wallClock: wallClock, entropy: &entropy, buffer: buffer, send: send) }
    }

    private func service(_ peer: Peer, now: MonotonicTime, wallClock: TAI64N, entropy: inout some EntropySource,
                         buffer: UnsafeMutableRawBufferPointer, send: DatagramSink) {
        let (flush, handshake): (Bool, Bool) = peer.lock.withLock {
            let f = peer.wantsFlush, h = peer.wantsHandshake
            peer.wantsFlush = false
            return (f, h)
        }
        if flush {
            var sentAny = false
            while let packet = peer.lock.withLock({ peer.staged.isEmpty ? nil : peer.staged.removeFirst() }) {
                let n = packet.count
                guard 16 + n + 64 <= buffer.count else { continue }
                packet.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[16..<16 + n]).copyMemory(from: $0) }
                if case .send(let len, let to) = encapsulate(peer: peer, buffer: buffer, packetLength: n, now: now) {
                    send(UnsafeRawBufferPointer(rebasing: buffer[0..<len]), to, peer)
                    sentAny = true
                } else { break }
            }
            if !sentAny, case .send(let len, let to) = encapsulate(peer: peer, buffer: buffer, packetLength: 0, now: now) {
                send(UnsafeRawBufferPointer(rebasing: buffer[0..<len]), to, peer)
            }
        }
        if handshake || peer.lock.withLock({ peer.wantsHandshake }) {
            if let (len, to) = createInitiation(peer: peer, now: now, wallClock: wallClock, entropy: &entropy, into: buffer) {
                send(UnsafeRawBufferPointer(rebasing: buffer[0..<len]), to, peer)
            }
        }
    }

    /// Runs the per-peer timers of the whitepaper section 6. Call it every few tens of milliseconds.
    public func tick(now: MonotonicTime, wallClock: TAI64N, entropy: inout some EntropySource,
                     buffer: UnsafeMutableRawBufferPointer, send: DatagramSink) {
        for peer in peers {
            tick(peer, now: now, wallClock: wallClock, entropy: &entropy, buffer: buffer, send: send)
        }
        serviceFollowUps(now: now, wallClock: wallClock, entropy: &entropy, buffer: buffer, send: send)
    }

    private enum TimerEvent { case none, retransmit, giveUp, keepalive, newHandshake }

    private func tick(_ peer: Peer, now: MonotonicTime, wallClock: TAI64N, entropy: inout some EntropySource,
                      buffer: UnsafeMutableRawBufferPointer, send: DatagramSink) {
        var released: [UInt32] = []
        var events: [TimerEvent] = []
        peer.lock.withLock {
            if let t = peer.zeroKeyMaterialAt, t <= now {
                // Nothing for three reject periods: forget every key so nothing old can be decrypted.
                released = peer.allLocalIndices
                peer.current = nil; peer.previous = nil; peer.next = nil; peer.pending = nil
                peer.zeroKeyMaterialAt = nil
            }
            if let t = peer.retransmitHandshakeAt, t <= now {
                peer.retransmitHandshakeAt = nil
                if peer.handshakeAttempts >= timers.maxHandshakeAttempts {
                    peer.staged.removeAll()
                    if let p = peer.pending { released.append(p.localIndex) }
                    peer.pending = nil
                    if peer.zeroKeyMaterialAt == nil { peer.zeroKeyMaterialAt = now + timers.rejectAfterTime * 3 }
                    events.append(.giveUp)
                } else {
                    peer.handshakeAttempts += 1
                    events.append(.retransmit)
                }
            }
            if let t = peer.sendKeepaliveAt, t <= now {
                peer.sendKeepaliveAt = nil
                events.append(.keepalive)
                if peer.needAnotherKeepalive {
                    peer.needAnotherKeepalive = false
                    peer.sendKeepaliveAt = now + timers.keepaliveTimeout
                }
            }
            if let t = peer.newHandshakeAt, t <= now {
                // We sent data and heard nothing for 15 s: the session may be dead.
                peer.newHandshakeAt = nil
                events.append(.newHandshake)
            }
            if let t = peer.persistentKeepaliveAt, t <= now {
                peer.persistentKeepaliveAt = peer.persistentKeepalive.map { now + $0 }
                events.append(.keepalive)
            }
        }
        for i in released { releaseIndex(i) }
        for event in events {
            switch event {
            case .none, .giveUp: break
            case .retransmit, .newHandshake:
                if let (len, to) = createInitiation(peer: peer, now: now, wallClock: wallClock, entropy: &entropy,
                                                    into: buffer, force: event == .retransmit) {
                    send(UnsafeRawBufferPointer(rebasing: buffer[0..<len]), to, peer)
                }
            case .keepalive:
                if case .send(let len, let to) = encapsulate(peer: peer, buffer: buffer, packetLength: 0, now: now) {
                    send(UnsafeRawBufferPointer(rebasing: buffer[0..<len]), to, peer)
                }
            }
        }
    }
}

extension Duration {
    static func * (d: Duration, n: Int) -> Duration { .nanoseconds(d.nanoseconds * Int64(n)) }
}
