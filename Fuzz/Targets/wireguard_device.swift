// The WireGuard receive path (WireGuard/DeviceReceive.swift: decapsulate, and the timers and follow-ups
// it schedules) with a real peer table. The device under test ("local") has one configured peer
// ("remote", a second Device with fixed keys that the target drives as the other end), so real
// handshake initiations, responses, cookie replies and transport messages reach it, as well as
// raw datagrams and valid-MAC1 garbage. All keys are fixed and all randomness comes from a
// seeded source; the input is a script of steps.
//
// Mode byte: bit 0 a preshared key on both sides; bit 1 a low under-load threshold (2 handshakes
// per second), so the cookie (mac2) path is taken; bit 2 a second configured peer on the local side.
import MeshCrypto
import WireGuard

private let localKey = try! PrivateKey(rawBytes: fixedKeyBytes(9))
private let remoteKey = try! PrivateKey(rawBytes: fixedKeyBytes(10))
private let otherKey = try! PrivateKey(rawBytes: fixedKeyBytes(11))
private let localPublic = localKey.publicKey
private let remotePublic = remoteKey.publicKey
private let otherPublic = otherKey.publicKey
private let psk = PresharedKey(bytes: SIMD32(repeating: 0x5a))
private let localAddr = UDPAddress(ipv4: 192, 0, 2, 1, port: 51820)
private let remoteAddr = UDPAddress(ipv4: 192, 0, 2, 2, port: 51820)
private let strangerAddr = UDPAddress(ipv4: 203, 0, 113, 9, port: 4000)
/// mac1 key for messages to the local device: BLAKE2s("mac1----" || local public key).
private let localMAC1Key = BLAKE2s.hash(Array("mac1----".utf8) + localPublic.rawBytes)

/// Recomputes mac1 (and clears mac2) so a handshake message passes the first check.
private func fixMAC1(_ msg: inout [UInt8]) {
    guard msg.count >= 32 else { return }
    let off = msg.count - 32
    let mac = BLAKE2s.hash(Array(msg[0..<off]), key: localMAC1Key, outputLength: 16)
    for i in 0..<16 { msg[off + i] = mac[i]; msg[off + 16 + i] = 0 }
}

private final class Harness {
    var r: FuzzReader
    var entropy = SeededEntropy(seed: 17)
    var now = MonotonicTime(nanoseconds: 1_000_000_000)
    var unix: Int64 = 1_700_000_000
    let local: Device
    let localPeer: Peer
    var remote: Device?
    var remotePeer: Peer?
    let mode: UInt8
    var lastToLocal: [UInt8] = []
    var toRemote: [[UInt8]] = []
    var scratch = [UInt8](repeating: 0, count: 2048)
    var reply = [UInt8](repeating: 0, count: 256)

    init(_ r: FuzzReader) {
        self.r = r
        mode = self.r.u8()
        local = Device(privateKey: localKey, underLoadThreshold: mode & 2 != 0 ? 2 : 1000)
        localPeer = try! local.addPeer(publicKey: remotePublic, presharedKey: mode & 1 != 0 ? psk : nil,
                                       endpoint: remoteAddr, persistentKeepalive: mode & 8 != 0 ? .seconds(25) : nil,
                                       allowedIPs: [([10, 0, 0, 2], 32), ([0xfd] + [UInt8](repeating: 0, count: 15), 64)],
                                       now: now)
        if mode & 4 != 0 {
            try! local.addPeer(publicKey: otherPublic, endpoint: strangerAddr, allowedIPs: [([10, 0, 0, 3], 32)], now: now)
        }
    }

    var wallClock: TAI64N { TAI64N(unixSeconds: unix, nanoseconds: Int32(truncatingIfNeeded: now.nanoseconds % 1_000_000_000)) }

    func remoteSide() -> (Device, Peer) {
        if let remote, let remotePeer { return (remote, remotePeer) }
        let d = Device(privateKey: remoteKey)
        let p = try! d.addPeer(publicKey: localPublic, presharedKey: mode & 1 != 0 ? psk : nil, endpoint: localAddr,
                               allowedIPs: [([10, 0, 0, 1], 32)], now: now)
        remote = d
        remotePeer = p
        return (d, p)
    }

    /// Optional corruption the script asks for: XOR a chunk into the message at an offset.
    func maybeMutate(_ msg: inout [UInt8]) {
        let how = r.u8()
        guard how & 1 != 0, !msg.isEmpty else { return }
        let off = Int(r.u8()) % msg.count
        for (i, b) in r.chunk().prefix(msg.count - off).enumerated() { msg[off + i] ^= b }
        if how & 2 != 0 && msg.count >= 64 && (msg[0] == 1 || msg[0] == 2) { fixMAC1(&msg) }
        if how & 4 != 0 { msg = Array(msg.prefix(Int(r.u8()))) }
    }

    /// Hands one datagram to the local device; its answer (a response or cookie reply) goes to the remote.
    func deliverToLocal(_ msg: [UInt8], from source: UDPAddress) {
        lastToLocal = msg
        var buf = msg
        let result: ReceiveResult = buf.withUnsafeMutableBytes { d in
            reply.withUnsafeMutableBytes { out in
                local.decapsulate(datagram: d, from: source, now: now, wallClock: wallClock, entropy: &entropy, reply: out)
            }
        }
        switch result {
        case .reply(let length, _, _):
            guard length <= reply.count else { fatalError("reply length \(length) past the reply buffer") }
            toRemote.append(Array(reply[0..<length]))
        case .packet(_, let offset, let length):
            guard offset >= 0, length >= 0, offset + length <= msg.count else { fatalError("packet outside the datagram") }
        default: break
        }
    }

    func deliverToRemote() {
        guard !toRemote.isEmpty else { return }
        let (d, _) = remoteSide()
        var msg = toRemote.removeFirst()
        var out = [UInt8](repeating: 0, count: 256)
        let result: ReceiveResult = msg.withUnsafeMutableBytes { m in
            out.withUnsafeMutableBytes { o in
                d.decapsulate(datagram: m, from: localAddr, now: now, wallClock: wallClock, entropy: &entropy, reply: o)
            }
        }
        if case .reply(let length, _, _) = result {
            var answer = Array(out[0..<length])
            maybeMutate(&answer)
            deliverToLocal(answer, from: remoteAddr)
        }
    }

    func localSink() -> DatagramSink {
        { [unowned self] bytes, _, _ in if self.toRemote.count < 8 { self.toRemote.append(Array(bytes)) } }
    }

    func step() {
        switch r.u8() % 12 {
        case 0:  // raw datagram from the remote's address or a stranger
            let src = r.u8() & 1 == 0 ? remoteAddr : strangerAddr
            deliverToLocal(r.chunk(), from: src)
        case 1:  // handshake-shaped garbage with a valid mac1
            let type = r.u8()
            let size = type & 1 == 0 ? 148 : 92
            var msg = r.take(size)
            msg += [UInt8](repeating: 0, count: size - msg.count)
            msg[0] = type & 1 == 0 ? 1 : 2
            msg[1] = 0; msg[2] = 0; msg[3] = 0
            fixMAC1(&msg)
            deliverToLocal(msg, from: r.u8() & 1 == 0 ? remoteAddr : strangerAddr)
        case 2:  // a real initiation from the remote, maybe corrupted
            let (d, p) = remoteSide()
            let got: (length: Int, to: UDPAddress?)? = scratch.withUnsafeMutableBytes {
                d.createInitiation(peer: p, now: now, wallClock: wallClock, entropy: &entropy, into: $0, force: true)
            }
            guard let got else { return }
            var msg = Array(scratch[0..<got.length])
            maybeMutate(&msg)
            deliverToLocal(msg, from: r.u8() & 1 == 0 ? remoteAddr : strangerAddr)
            deliverToRemote()
        case 3:  // the local device initiates; the remote answers (maybe corrupted)
            let got: (length: Int, to: UDPAddress?)? = scratch.withUnsafeMutableBytes {
                local.createInitiation(peer: localPeer, now: now, wallClock: wallClock, entropy: &entropy, into: $0,
                                       force: r.u8() & 1 == 0)
            }
            guard let got else { return }
            toRemote.append(Array(scratch[0..<got.length]))
            deliverToRemote()
        case 4:  // a transport packet from the remote: an IPv4/IPv6 header the input shapes
            let (d, p) = remoteSide()
            var packet = r.chunk()
            if packet.count > 1400 { packet = Array(packet.prefix(1400)) }
            let shape = r.u8()
            if shape & 1 != 0 && packet.count >= 20 {
                packet[0] = 0x45
                packet[2] = UInt8(packet.count >> 8); packet[3] = UInt8(packet.count & 0xff)
                packet[12] = 10; packet[13] = 0; packet[14] = 0; packet[15] = shape & 2 != 0 ? 2 : 3
            }
            let n = packet.count
            let result: EncapsulateResult = scratch.withUnsafeMutableBytes { buf in
                for (i, b) in packet.enumerated() { buf[16 + i] = b }
                return d.encapsulate(peer: p, buffer: buf, packetLength: n, now: now)
            }
            guard case .send(let length, _) = result else { return }
            var msg = Array(scratch[0..<length])
            maybeMutate(&msg)
            deliverToLocal(msg, from: r.u8() & 1 == 0 ? remoteAddr : strangerAddr)
        case 5:  // time passes; both sides run their timers
            let v = Int64(r.u16())
            let d: Int64 = r.u8() & 1 == 0 ? v * 1_000_000 : v * 100_000_000
            now = now + .nanoseconds(d)
            unix += d / 1_000_000_000
            scratch.withUnsafeMutableBytes {
                local.tick(now: now, wallClock: wallClock, entropy: &entropy, buffer: $0, send: localSink())
            }
            if let remote {
                var sent: [[UInt8]] = []
                scratch.withUnsafeMutableBytes {
                    remote.tick(now: now, wallClock: wallClock, entropy: &entropy, buffer: $0) { b, _, _ in
                        if sent.count < 4 { sent.append(Array(b)) }
                    }
                }
                for m in sent { deliverToLocal(m, from: remoteAddr) }
            }
            deliverToRemote()
        case 6:  // the last datagram again (replay)
            deliverToLocal(lastToLocal, from: r.u8() & 1 == 0 ? remoteAddr : strangerAddr)
        case 7:  // the local side sends: stages a packet or seals it
            var packet = r.chunk()
            if packet.count > 1400 { packet = Array(packet.prefix(1400)) }
            let n = packet.count
            let result: EncapsulateResult = scratch.withUnsafeMutableBytes { buf in
                for (i, b) in packet.enumerated() { buf[16 + i] = b }
                return local.encapsulate(peer: localPeer, buffer: buf, packetLength: n, now: now)
            }
            if case .send(let length, _) = result, toRemote.count < 8 { toRemote.append(Array(scratch[0..<length])) }
            _ = packet.withUnsafeBytes { local.route(packet: $0) }
        case 8:
            if local.hasFollowUps {
                scratch.withUnsafeMutableBytes {
                    local.serviceFollowUps(now: now, wallClock: wallClock, entropy: &entropy, buffer: $0, send: localSink())
                }
            }
            deliverToRemote()
        case 9:  // a cookie-reply-shaped message for an index the local side has in flight
            var msg = r.take(64)
            msg += [UInt8](repeating: 0, count: 64 - msg.count)
            msg[0] = 3; msg[1] = 0; msg[2] = 0; msg[3] = 0
            deliverToLocal(msg, from: remoteAddr)
        case 10:
            deliverToRemote()
        default:  // the remote forgets its session state and starts over
            remote = nil
            remotePeer = nil
            toRemote.removeAll()
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let h = Harness(FuzzReader(data, size))
    var steps = 0
    while !h.r.isAtEnd && steps < 48 {
        steps += 1
        h.step()
    }
    _ = h.localPeer.snapshot()
    return 0
}
