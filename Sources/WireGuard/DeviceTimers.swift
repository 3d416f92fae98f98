import MeshCrypto

/// A datagram the device wants sent to a peer, handed to the driver's send callback with the
/// peer's configured endpoint (nil: none, when the transport chooses paths). The peer comes
/// along so a transport that chooses paths itself (direct or relay) can route it.
public typealias DatagramSink = (UnsafeRawBufferPointer, UDPAddress?, Peer) -> Void

/// Everything that sends without being handed a packet: work the data path deferred and the
/// per-peer timers of whitepaper section 6 (wireguard-go's timers.go). The driver calls these
/// from its own loop, so encapsulate and decapsulate stay free of sending and waiting.
extension Device {
    func markFollowUp(_ peer: Peer) {
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

    /// The transport has just found a working path to `peer`. A handshake in flight may have
    /// gone nowhere (sent before any path existed), so its retransmission is due now rather than
    /// after the rest of REKEY_TIMEOUT; the next `tick` sends it and counts it as an attempt.
    /// Nothing happens without a handshake in flight, so calling it often costs nothing.
    public func expediteHandshake(_ peer: Peer, now: MonotonicTime) {
        peer.lock.withLock {
            if let t = peer.retransmitHandshakeAt, t > now { peer.retransmitHandshakeAt = now }
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
        var expired = LocalIndices(), abandoned = LocalIndices()
        var events: [TimerEvent] = []
        peer.lock.withLock {
            if let t = peer.zeroKeyMaterialAt, t <= now {
                // Nothing for three reject periods: forget every key so nothing old can be decrypted.
                expired = peer.keypairs.clearAll()
                peer.zeroKeyMaterialAt = nil
            }
            if let t = peer.retransmitHandshakeAt, t <= now {
                peer.retransmitHandshakeAt = nil
                if peer.handshakeAttempts >= timers.maxHandshakeAttempts {
                    peer.staged.removeAll()
                    abandoned = peer.keypairs.abandonInitiation()
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
        releaseIndices(expired)
        releaseIndices(abandoned)
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
