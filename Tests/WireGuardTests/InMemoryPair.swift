import MeshCrypto
import WireGuard

/// Two devices wired back to back through an in-memory "network" with a virtual clock:
/// everything the protocol does, with no sockets and no real time.
final class InMemoryPair {
    /// `to` is nil when the device left the path to the transport (the peer has no endpoint).
    struct Datagram { var bytes: [UInt8]; var from: UDPAddress; var to: UDPAddress? }

    var now = MonotonicTime(nanoseconds: 1_000_000_000)
    var wallSeconds: Int64 = 1_800_000_000
    let a: Device
    let b: Device
    let bAtA: Peer
    let aAtB: Peer
    var entropyA = SeededEntropy(seed: 11)
    var entropyB = SeededEntropy(seed: 22)
    let addressA = UDPAddress(ipv4: 192, 0, 2, 1, port: 51820)
    let addressB = UDPAddress(ipv4: 192, 0, 2, 2, port: 51820)
    var network: [Datagram] = []
    var deliveredToA: [[UInt8]] = []
    var deliveredToB: [[UInt8]] = []
    var results: [String] = []
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
    let reply = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)

    init(timers: ProtocolTimers = .standard, underLoadThresholdB: Int = 1000, presharedKey: PresharedKey? = nil,
         bKnowsEndpointOfA: Bool = false) throws {
        _ = Sodium.isReady
        var seed = SeededEntropy(seed: 99)
        let ka = PrivateKey.generate(using: &seed), kb = PrivateKey.generate(using: &seed)
        a = Device(privateKey: ka, mtu: 1280, timers: timers)
        b = Device(privateKey: kb, mtu: 1280, timers: timers, underLoadThreshold: underLoadThresholdB)
        bAtA = try a.addPeer(publicKey: kb.publicKey, presharedKey: presharedKey, endpoint: addressB,
                             allowedIPs: [([10, 0, 0, 2], 32)], now: now)
        aAtB = try b.addPeer(publicKey: ka.publicKey, presharedKey: presharedKey,
                             endpoint: bKnowsEndpointOfA ? addressA : nil,
                             allowedIPs: [([10, 0, 0, 1], 32)], now: now)
    }

    deinit { scratch.deallocate(); reply.deallocate() }

    var wall: TAI64N { TAI64N(unixSeconds: wallSeconds, nanoseconds: 0) }

    func advance(seconds: Double) {
        now = now + .nanoseconds(Int64(seconds * 1e9))
        wallSeconds += Int64(seconds.rounded(.up))
    }

    /// A minimal IPv4 packet from `src` to `dst` with a payload.
    static func ipv4(from src: [UInt8], to dst: [UInt8], payload: [UInt8] = Array("hello".utf8)) -> [UInt8] {
        var p = [UInt8](repeating: 0, count: 20)
        p[0] = 0x45
        let total = 20 + payload.count
        p[2] = UInt8(total >> 8); p[3] = UInt8(total & 0xff)
        p[8] = 64; p[9] = 17
        p.replaceSubrange(12..<16, with: src)
        p.replaceSubrange(16..<20, with: dst)
        return p + payload
    }

    /// Sends an IP packet from A (`fromA`) or B through its device; returns what encapsulate said.
    @discardableResult
    func send(_ packet: [UInt8], fromA: Bool) -> EncapsulateResult {
        let device = fromA ? a : b
        let peer = fromA ? bAtA : aAtB
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 16)
        defer { buffer.deallocate() }
        packet.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[16..<16 + packet.count]).copyMemory(from: $0) }
        let result = device.encapsulate(peer: peer, buffer: buffer, packetLength: packet.count, now: now)
        if case .send(let len, let to) = result {
            network.append(Datagram(bytes: Array(buffer[0..<len]), from: fromA ? addressA : addressB, to: to))
        }
        serviceFollowUps(fromA: fromA)
        return result
    }

    func serviceFollowUps(fromA: Bool) {
        let device = fromA ? a : b
        let from = fromA ? addressA : addressB
        if fromA {
            device.serviceFollowUps(now: now, wallClock: wall, entropy: &entropyA, buffer: scratch) { d, to, _ in
                self.network.append(Datagram(bytes: Array(d), from: from, to: to))
            }
        } else {
            device.serviceFollowUps(now: now, wallClock: wall, entropy: &entropyB, buffer: scratch) { d, to, _ in
                self.network.append(Datagram(bytes: Array(d), from: from, to: to))
            }
        }
    }

    func tick() {
        a.tick(now: now, wallClock: wall, entropy: &entropyA, buffer: scratch) { d, to, _ in
            self.network.append(Datagram(bytes: Array(d), from: self.addressA, to: to))
        }
        b.tick(now: now, wallClock: wall, entropy: &entropyB, buffer: scratch) { d, to, _ in
            self.network.append(Datagram(bytes: Array(d), from: self.addressB, to: to))
        }
    }

    /// Delivers one datagram to its destination device and records the outcome.
    @discardableResult
    func deliver(_ d: Datagram) -> ReceiveResult {
        let toA = d.to == addressA
        let device = toA ? a : b
        var bytes = d.bytes
        let result: ReceiveResult = bytes.withUnsafeMutableBytes { buf in
            if toA {
                return device.decapsulate(datagram: buf, from: d.from, now: now, wallClock: wall, entropy: &entropyA, reply: reply)
            } else {
                return device.decapsulate(datagram: buf, from: d.from, now: now, wallClock: wall, entropy: &entropyB, reply: reply)
            }
        }
        switch result {
        case .packet(_, let offset, let length):
            (toA ? { self.deliveredToA.append(Array(bytes[offset..<offset + length])) } : { self.deliveredToB.append(Array(bytes[offset..<offset + length])) })()
            results.append("packet")
        case .reply(let len, let to, _):
            network.append(Datagram(bytes: Array(reply[0..<len]), from: d.to ?? .unspecified, to: to))
            results.append("reply")
        case .handshakeCompleted: results.append("handshakeCompleted")
        case .keepalive: results.append("keepalive")
        case .consumed: results.append("consumed")
        case .dropped(let r): results.append("dropped:\(r.rawValue)")
        }
        serviceFollowUps(fromA: toA)
        return result
    }

    /// Delivers until the network is quiet.
    func deliverAll(limit: Int = 1000) {
        var n = 0
        while !network.isEmpty && n < limit {
            let d = network.removeFirst()
            // One with no destination was for a transport this pair does not model.
            if d.to != nil { deliver(d) }
            n += 1
        }
    }

    func messageTypes() -> [UInt8] { network.map { $0.bytes[0] } }
}
