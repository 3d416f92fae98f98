// The relay's server state machine (Relay/RelayServerCore.swift) driven by a script read from
// the input: connections open and close, send raw frame bytes (through the real frame decoder)
// or valid ClientInfo proofs for three fixed node keys, so the authorized paths (forwarding,
// queue bounds, PeerGone, revocation, timers) are reached. Bounds are set small so they bind.
import MeshCrypto
import MeshWire
import Relay
import WireGuard

private let serverKey = try! PrivateKey(rawBytes: fixedKeyBytes(5))
private let serverPublic = serverKey.publicKey
private let clientKeys = (6...8).map { try! PrivateKey(rawBytes: fixedKeyBytes(UInt8($0))) }
private let clientPublics = clientKeys.map(\.publicKey)
/// The third client is not a registered node.
private let unauthorized = clientPublics[2]
private let baseUnix: Int64 = 1_700_000_000

private let config: RelayServerConfig = {
    var c = RelayServerConfig()
    c.maxQueuedPackets = 4
    c.maxQueuedBytes = 2048
    c.maxQueuedControlFrames = 4
    c.maxTrackedPeersPerClient = 3
    c.maxPacketBytes = 1500
    return c
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var r = FuzzReader(data, size)
    var core = RelayServerCore(privateKey: serverKey, config: config, authorize: { $0 != unauthorized })
    var entropy = SeededEntropy(seed: 11)
    var now = MonotonicTime(nanoseconds: 1_000_000_000)
    var unix = baseUnix
    var conns: [RelayConnectionID] = []
    var decoders: [RelayConnectionID: RelayFrameDecoder] = [:]

    func handle(_ actions: [RelayServerAction]) {
        for a in actions {
            switch a {
            case .wake(let id): _ = core.dequeue(id, maxFrames: 2, maxBytes: 1024)
            case .close(let id, _): decoders[id] = nil
            }
        }
    }
    func pick() -> RelayConnectionID? {
        let b = r.u8()
        return conns.isEmpty ? nil : conns[Int(b) % conns.count]
    }

    var steps = 0
    while !r.isAtEnd && steps < 64 {
        steps += 1
        switch r.u8() % 10 {
        case 0:
            guard conns.count < 6 else { continue }
            let (id, actions) = core.accept(now: now)
            conns.append(id)
            decoders[id] = RelayFrameDecoder()
            handle(actions)
        case 1:  // raw bytes from the socket
            guard let id = pick() else { continue }
            let bytes = r.chunk()
            var d = decoders[id] ?? RelayFrameDecoder()
            d.append(bytes)
            while true {
                do {
                    guard let f = try d.next() else { break }
                    handle(core.receive(f, from: id, now: now, unixTime: unix, entropy: &entropy))
                } catch {
                    handle(core.malformedStream(id, now: now))
                    break
                }
            }
            decoders[id] = d
        case 2:  // a proof for a known key, with a clock skew the input picks
            guard let id = pick() else { continue }
            let k = clientKeys[Int(r.u8()) % clientKeys.count]
            let skew = Int64(Int8(bitPattern: r.u8()))
            var nonce = r.take(Box.nonceLength)
            nonce += [UInt8](repeating: 0, count: Box.nonceLength - nonce.count)
            guard let frame = RelayClientProof.seal(nodeKey: k, serverKey: serverPublic, unixTime: unix + skew,
                                                    nonce: nonce, version: UInt16(r.u8() % 3)) else { continue }
            handle(core.receive(frame, from: id, now: now, unixTime: unix, entropy: &entropy))
        case 3:  // a packet to one of the keys (or a random one)
            guard let id = pick() else { continue }
            let b = r.u8()
            let dest = b < 192 ? clientPublics[Int(b) % 3] : PublicKey(bytes: SIMD32(repeating: b))
            let packet = r.chunk()
            handle(core.receive(.sendPacket(destination: dest, packet: packet), from: id, now: now, unixTime: unix,
                                entropy: &entropy))
        case 4:
            let ms = Int64(r.u16())
            let scale: Int64 = r.u8() & 1 == 0 ? 1_000_000 : 1_000_000_000
            now = now + .nanoseconds(ms * scale)
            unix += ms * scale / 1_000_000_000
            handle(core.tick(now: now))
        case 5:
            guard let id = pick() else { continue }
            _ = core.dequeue(id, maxFrames: Int(r.u8()), maxBytes: Int(r.u16()))
        case 6:
            guard let id = pick() else { continue }
            handle(core.connectionClosed(id, now: now))
            conns.removeAll { $0 == id }
        case 7:
            let k = clientPublics[Int(r.u8()) % 3]
            if r.u8() & 1 == 0 { handle(core.revoke(k, now: now)) } else { core.reinstate(k) }
        case 8:
            guard let id = pick() else { continue }
            let frame: RelayFrame = r.u8() & 1 == 0 ? .ping(r.take(8) + [UInt8](repeating: 0, count: 8)).normalizedPing
                                                    : .keepAlive
            handle(core.receive(frame, from: id, now: now, unixTime: unix, entropy: &entropy))
        default:
            guard let id = pick() else { continue }
            _ = core.dequeueAll(id)
            _ = core.clientStats(id)
        }
        if core.connectionCount > 6 { fatalError("more connections than accepted") }
    }
    handle(core.shutdown(now: now))
    if core.connectionCount != 0 { fatalError("connections left after shutdown") }
    return 0
}

extension RelayFrame {
    /// Ping payloads are exactly 8 bytes on the wire.
    fileprivate var normalizedPing: RelayFrame {
        if case .ping(let p) = self { return .ping(Array(p.prefix(8))) }
        return self
    }
}
