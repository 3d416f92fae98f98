#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CMeshShim
import Logging
import WireGuard

/// Moves packets between the TUN device and the UDP socket through the WireGuard `Device`.
/// Three threads: TUN→UDP (read, route, seal, sendmmsg), UDP→TUN (recvmmsg, open, write)
/// and timers. Buffers are allocated once; the steady-state path allocates nothing.
public final class DataPlane: @unchecked Sendable {
    public let device: Device
    public let tun: TunDevice
    public let udp: UDPTransport
    public let counters = DataPlaneCounters()
    private let logger: Logger
    private let batchSize = 64
    private let stride: Int

    public init(device: Device, tun: TunDevice, udp: UDPTransport, logger: Logger) {
        self.device = device
        self.tun = tun
        self.udp = udp
        self.logger = logger
        self.stride = (max(2048, device.mtu + 128) + 63) & ~63
    }

    public func start() {
        tun.setNonBlocking(true)
        spawn("mesh-tun-rx") { self.tunToUDPLoop() }
        spawn("mesh-udp-rx") { self.udpToTunLoop() }
        spawn("mesh-timers") { self.timerLoop() }
    }

    private func spawn(_ name: String, _ body: @escaping @Sendable () -> Void) {
        let t = Thread { body() }
        t.name = name
        t.stackSize = 1 << 20
        t.start()
    }

    /// Sends one datagram outside a batch (handshakes, keepalives, staged packets).
    private var sendOne: DatagramSink {
        { [udp] datagram, to in udp.send(datagram, to: to) }
    }

    private func tunToUDPLoop() {
        let arena = UnsafeMutableRawBufferPointer.allocate(byteCount: stride * batchSize, alignment: 64)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: stride, alignment: 64)
        let lengths = UnsafeMutablePointer<Int32>.allocate(capacity: batchSize)
        let destinations = UnsafeMutablePointer<mesh_addr>.allocate(capacity: batchSize)
        var entropy = SystemEntropy()
        let readCapacity = stride - 64
        while true {
            let ready = mesh_poll_readable(tun.fd, 1000)
            if ready <= 0 { continue }
            let now = SystemClock.now()
            var count = 0
            var reads = 0
            while reads < batchSize {
                let slot = UnsafeMutableRawBufferPointer(rebasing: arena[count * stride..<(count + 1) * stride])
                let n = tun.read(into: slot.baseAddress! + 16, capacity: readCapacity)
                if n <= 0 { break }
                reads += 1
                counters.packetsFromTunnel.add(1, ordering: .relaxed)
                let packet = UnsafeRawBufferPointer(rebasing: slot[16..<16 + n])
                guard let peer = device.route(packet: packet) else { counters.drop(.noRoute); continue }
                switch device.encapsulate(peer: peer, buffer: slot, packetLength: n, now: now) {
                case .send(let length, let to):
                    lengths[count] = Int32(length)
                    destinations[count] = mesh_addr(to)
                    count += 1
                case .staged:
                    break
                case .dropped(let reason):
                    counters.drop(reason)
                }
            }
            if count > 0 {
                _ = mesh_send_batch(udp.fd, arena.baseAddress!.assumingMemoryBound(to: UInt8.self), stride,
                                    Int32(count), lengths, destinations)
            }
            if device.hasFollowUps {
                device.serviceFollowUps(now: now, wallClock: SystemClock.wallClock(), entropy: &entropy,
                                        buffer: scratch, send: sendOne)
            }
        }
    }

    private func udpToTunLoop() {
        let arena = UnsafeMutableRawBufferPointer.allocate(byteCount: stride * batchSize, alignment: 64)
        let reply = UnsafeMutableRawBufferPointer.allocate(byteCount: stride, alignment: 64)
        let lengths = UnsafeMutablePointer<Int32>.allocate(capacity: batchSize)
        let sources = UnsafeMutablePointer<mesh_addr>.allocate(capacity: batchSize)
        var entropy = SystemEntropy()
        while true {
            let n = mesh_recv_batch(udp.fd, arena.baseAddress!.assumingMemoryBound(to: UInt8.self), stride, stride,
                                    Int32(batchSize), lengths, sources)
            if n <= 0 {
                if n < 0 && n != -EINTR && n != -EAGAIN { logger.warning("UDP receive failed: \(SystemError("recvmmsg", code: n))") }
                continue
            }
            let now = SystemClock.now()
            var wall: TAI64N? = nil
            counters.receivedDatagrams.add(Int(n), ordering: .relaxed)
            for i in 0..<Int(n) {
                let length = Int(lengths[i])
                guard length >= 0 else { counters.oversized.add(1, ordering: .relaxed); continue }
                let datagram = UnsafeMutableRawBufferPointer(rebasing: arena[i * stride..<i * stride + length])
                guard DatagramKind.classify(UnsafeRawBufferPointer(datagram)) == .wireGuard else {
                    counters.notWireGuard.add(1, ordering: .relaxed)
                    continue
                }
                let source = sources[i].udpAddress
                if datagram[0] != 4 && wall == nil { wall = SystemClock.wallClock() }
                switch device.decapsulate(datagram: datagram, from: source, now: now, wallClock: wall ?? .zero,
                                          entropy: &entropy, reply: reply) {
                case .packet(_, let offset, let len):
                    tun.write(datagram.baseAddress! + offset, length: len)
                    counters.packetsToTunnel.add(1, ordering: .relaxed)
                case .reply(let len, let to):
                    udp.send(UnsafeRawBufferPointer(rebasing: reply[0..<len]), to: to)
                case .handshakeCompleted(let peer):
                    logger.debug("handshake completed with \(peer.publicKey)")
                case .keepalive, .consumed:
                    break
                case .dropped(let reason):
                    counters.drop(reason)
                }
            }
            if device.hasFollowUps {
                device.serviceFollowUps(now: now, wallClock: wall ?? SystemClock.wallClock(), entropy: &entropy,
                                        buffer: reply, send: sendOne)
            }
        }
    }

    private func timerLoop() {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: stride, alignment: 64)
        var entropy = SystemEntropy()
        while true {
            device.tick(now: SystemClock.now(), wallClock: SystemClock.wallClock(), entropy: &entropy,
                        buffer: scratch, send: sendOne)
            usleep(50_000)
        }
    }
}
