import MeshCrypto

/// What became of a packet handed to `Device.encapsulate`.
public enum EncapsulateResult: Equatable, Sendable {
    /// A transport message of `length` bytes is at the start of the buffer; send it to `to`
    /// (nil only when the transport chooses paths and the peer has no configured endpoint).
    case send(length: Int, to: UDPAddress?)
    /// No session yet: the packet is kept until a handshake completes (one was asked for).
    case staged
    case dropped(DropReason)
}

/// A transport message whose header, counter and padding are in place and whose encryption is
/// still to do (`Device.prepareEncapsulation`): the counter was taken in order under the peer's
/// lock, so the sealing itself may run on any thread (the data plane spreads a batch's over
/// its cores) without reordering what the peer sees.
public struct PendingSeal: Sendable {
    let cipher: TransportCipher
    let counter: UInt64
    let paddedLength: Int
    /// The message's bytes once sealed, and where it goes (as `EncapsulateResult.send`).
    public let length: Int
    public let destination: UDPAddress?

    /// Encrypts the message in `buffer` (the one given to `prepareEncapsulation`).
    @inline(__always)
    public func seal(_ buffer: UnsafeMutableRawBufferPointer) {
        cipher.sealInPlace(counter: counter, buffer: buffer.baseAddress! + MessageLayout.transportHeaderSize, length: paddedLength)
    }
}

/// What `Device.prepareEncapsulation` made of a packet.
public enum PreparedEncapsulation: Sendable {
    case ready(PendingSeal)
    case staged
    case dropped(DropReason)
}

/// The send path: sealing transport messages and starting handshakes (wireguard-go's send.go
/// and the creating half of noise-protocol.go).
extension Device {
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
        switch prepareEncapsulation(peer: peer, buffer: buffer, packetLength: packetLength, now: now) {
        case .ready(let pending):
            pending.seal(buffer)
            return .send(length: pending.length, to: pending.destination)
        case .staged: return .staged
        case .dropped(let reason): return .dropped(reason)
        }
    }

    /// Everything of `encapsulate` but the encryption: the session and counter (under the
    /// peer's lock), the header and the padding. `PendingSeal.seal` finishes the message.
    public func prepareEncapsulation(peer: Peer, buffer: UnsafeMutableRawBufferPointer, packetLength: Int,
                                     now: MonotonicTime) -> PreparedEncapsulation {
        let padded = paddedLength(packetLength)
        guard MessageLayout.transportHeaderSize + padded + MessageLayout.tagSize <= buffer.count else {
            return .dropped(.packetTooLarge)
        }
        var cipher: TransportCipher? = nil
        var counter: UInt64 = 0
        var remoteIndex: UInt32 = 0
        var destination: UDPAddress? = nil
        var outcome: PreparedEncapsulation? = nil
        let endpointRequired = !pathsChosenByTransport
        var rekeyDue = false
        let total = MessageLayout.transportHeaderSize + padded + MessageLayout.tagSize
        peer.lock.withLock {
            if endpointRequired && peer.endpoint == nil { outcome = .dropped(.noEndpoint); return }
            guard let kp = peer.keypairs.current, kp.isUsable(now: now, timers: timers) else {
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
            cipher = kp.sender
            remoteIndex = kp.remoteIndex
            destination = peer.endpoint
            peer.txBytes &+= UInt64(total)
            noteAuthenticatedSend(peer, now: now, isData: packetLength > 0)
            if counter + 1 >= Protocol.rekeyAfterMessages || (kp.isInitiator && now - kp.createdAt >= timers.rekeyAfterTime) {
                peer.wantsHandshake = true
                rekeyDue = true
            }
        }
        if let outcome {
            if case .staged = outcome { markFollowUp(peer) }
            return outcome
        }
        if padded > packetLength {
            (buffer.baseAddress! + 16 + packetLength).initializeMemory(as: UInt8.self, repeating: 0, count: padded - packetLength)
        }
        buffer.writeHeader(.transport)
        buffer.writeLE32(remoteIndex, MessageLayout.transportReceiver)
        buffer.writeLE64(counter, MessageLayout.transportCounter)
        if rekeyDue { markFollowUp(peer) }
        return .ready(PendingSeal(cipher: cipher!, counter: counter, paddedLength: padded, length: total, destination: destination))
    }

    /// Timer bookkeeping for any authenticated packet we send (whitepaper 6.2-6.5).
    func noteAuthenticatedSend(_ peer: Peer, now: MonotonicTime, isData: Bool) {
        peer.sendKeepaliveAt = nil
        if isData && peer.newHandshakeAt == nil {
            peer.newHandshakeAt = now + timers.keepaliveTimeout + timers.rekeyTimeout
        }
        if let pk = peer.persistentKeepalive { peer.persistentKeepaliveAt = now + pk }
    }

    /// Writes a handshake initiation to `peer` into `out` if one may be sent now (at most one per
    /// REKEY_TIMEOUT unless `force`). Returns its length and destination (nil: the peer has no
    /// configured endpoint, and the transport, which chooses paths, sends it).
    public func createInitiation(peer: Peer, now: MonotonicTime, wallClock: TAI64N, entropy: inout some EntropySource,
                                 into out: UnsafeMutableRawBufferPointer, force: Bool = false) -> (length: Int, to: UDPAddress?)? {
        precondition(out.count >= MessageLayout.initiationSize)
        let msg = UnsafeMutableRawBufferPointer(rebasing: out[0..<MessageLayout.initiationSize])
        let ephemeral = PrivateKey.generate(using: &entropy)
        let newIndex = allocateIndex(for: peer, entropy: &entropy)
        var released = LocalIndices()
        let endpointRequired = !pathsChosenByTransport
        let result: (Int, UDPAddress?)? = peer.lock.withLock {
            if endpointRequired && peer.endpoint == nil { return nil }
            if !force, let last = peer.lastInitiationSentAt, now - last < timers.rekeyTimeout { return nil }
            guard let pending = try? NoiseHandshake.createInitiation(
                localStatic: privateKey, localPublic: publicKey, remoteStatic: peer.publicKey,
                staticStatic: peer.staticStatic, localIndex: newIndex, ephemeral: ephemeral,
                timestamp: wallClock, into: msg) else { return nil }
            released = peer.keypairs.startInitiation(pending)
            peer.cookies.addMACs(msg, now: now, timers: timers)
            if !force { peer.handshakeAttempts = 0 }  // a fresh attempt, not a retransmission
            peer.lastInitiationSentAt = now
            let jitter = Duration.milliseconds(Int64(entropy.nextUInt32() % 334))
            peer.retransmitHandshakeAt = now + timers.rekeyTimeout + jitter
            peer.wantsHandshake = false
            noteAuthenticatedSend(peer, now: now, isData: false)
            return (MessageLayout.initiationSize, peer.endpoint)
        }
        releaseIndices(released)
        if result == nil || peer.lock.withLock({ peer.keypairs.pending?.localIndex != newIndex }) { releaseIndex(newIndex) }
        return result.map { (length: $0.0, to: $0.1) }
    }
}
