#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import CMeshShim
import Logging
import WireGuard

/// Moves packets between the TUN device and the UDP socket through the WireGuard `Device`.
/// Three threads: TUN→UDP (read, route, seal, sendmmsg), UDP→TUN (recvmmsg, open, write)
/// and timers. Buffers are allocated once per thread; the steady-state path allocates nothing.
/// `stop()` ends the threads, so a node can be started and stopped within one process.
///
/// Sendable by hand: each worker's buffers belong to its own thread; the relayed-receive
/// scratch buffer and entropy are used only under `relayLock`; `steering` is written before
/// the threads start; `running` is atomic.
public final class DataPlane: @unchecked Sendable {
    public let device: Device
    public let tun: TunDevice
    public let udp: UDPTransport
    public let counters = DataPlaneCounters()
    /// Mesh mode's path selection; nil in standalone mode. Written only by `start(steering:)`
    /// before the threads that read it exist, so it needs no lock.
    public private(set) var steering: OverlaySteering?
    private let relayLock = Lock()
    private lazy var relayScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: stride, alignment: 64)
    private var relayEntropy = SystemEntropy()
    let logger: Logger
    let batchSize = 64
    let stride: Int

    public init(device: Device, tun: TunDevice, udp: UDPTransport, logger: Logger) {
        self.device = device
        self.tun = tun
        self.udp = udp
        self.logger = logger
        self.stride = (max(2048, device.mtu + 128) + 63) & ~63
    }

    /// Cleared by `stop()`; each thread checks it between batches. Every wait in a loop is
    /// bounded (TUN poll 1 s, the socket's receive timeout 1 s, timers 50 ms), so a stop takes
    /// effect within about a second.
    private let running = ManagedAtomicFlag()
    private let exited = DispatchSemaphore(value: 0)
    private static let threadCount = 3

    public func start(steering: OverlaySteering? = nil) {
        self.steering = steering
        tun.setNonBlocking(true)
        udp.setReceiveTimeout(milliseconds: 1000)
        running.set(true)
        spawn("mesh-tun-rx") { let w = OutboundWorker(plane: self); while self.running.get() { w.runBatch() } }
        spawn("mesh-udp-rx") { let w = InboundWorker(plane: self); while self.running.get() { w.runBatch() } }
        spawn("mesh-timers") { self.timerLoop() }
    }

    /// Stops the three threads and waits for them (up to `timeout`); true when all ended. The
    /// device, TUN and socket stay open: they belong to the caller.
    @discardableResult
    public func stop(timeout: Duration = .seconds(3)) -> Bool {
        guard running.get() else { return true }
        running.set(false)
        let deadline = DispatchTime.now() + .milliseconds(Int(timeout.components.seconds) * 1000)
        for _ in 0..<Self.threadCount where exited.wait(timeout: deadline) == .timedOut { return false }
        return true
    }

    private func spawn(_ name: String, _ body: @escaping @Sendable () -> Void) {
        let t = Thread { [exited] in
            body()
            exited.signal()
        }
        t.name = name
        t.stackSize = 1 << 20
        t.start()
    }

    /// Sends one datagram outside a batch (handshakes, keepalives, staged packets).
    var sendOne: DatagramSink {
        { [udp, weak self] datagram, to, peer in
            guard let steering = self?.steering else {
                // Standalone: the device sends only to peers with an endpoint.
                if let to { udp.send(datagram, to: to) }
                return
            }
            if let direct = Self.route(datagram, to: to, peer: peer, steering: steering, now: SystemClock.now()) {
                udp.send(datagram, to: direct)
            }
        }
    }

    /// The one place a steering decision is carried out: relayed copies go to the relay here;
    /// the direct address (if any) is returned for the caller to send to, alone or in a batch.
    @inline(__always)
    static func route(_ datagram: UnsafeRawBufferPointer, to endpoint: UDPAddress?, peer: Peer,
                      steering: OverlaySteering, now: MonotonicTime) -> UDPAddress? {
        switch steering.steer(peer: peer, endpoint: endpoint, now: now) {
        case .direct(let a): return a
        case .relay:
            steering.sendViaRelay(datagram, to: peer)
            return nil
        case .both(let a):
            steering.sendViaRelay(datagram, to: peer)
            return a
        case .drop: return nil
        }
    }

    /// A WireGuard datagram that came through the relay: decrypted and delivered like one from
    /// the socket, but without a source address (the device finds the peer by receiver index,
    /// and an answer goes back to that peer along the path MagicSock chooses).
    public func receiveFromRelay(_ datagram: UnsafeMutableRawBufferPointer) {
        relayLock.lock()
        defer { relayLock.unlock() }
        let now = SystemClock.now()
        counters.receivedDatagrams.add(1, ordering: .relaxed)
        switch device.decapsulate(datagram: datagram, from: nil, now: now, wallClock: SystemClock.wallClock(),
                                  entropy: &relayEntropy, reply: relayScratch) {
        case .packet(_, let offset, let len):
            tun.write(datagram.baseAddress! + offset, length: len)
            counters.packetsToTunnel.add(1, ordering: .relaxed)
        case .reply(let len, _, let peer):
            // To the peer it answers, by its path; a relayed handshake is never sent a cookie
            // reply (it has no address to prove), so there is always a peer here.
            if let peer { sendOne(UnsafeRawBufferPointer(rebasing: relayScratch[0..<len]), nil, peer) }
        case .handshakeCompleted, .keepalive, .consumed:
            break
        case .dropped(let reason):
            counters.drop(reason)
        }
        if device.hasFollowUps {
            device.serviceFollowUps(now: now, wallClock: SystemClock.wallClock(), entropy: &relayEntropy,
                                    buffer: relayScratch, send: sendOne)
        }
    }

    /// What one worker thread owns for its whole life: `count` datagram slots of `stride`
    /// bytes (sendmmsg/recvmmsg work on them in place), their lengths and addresses, and one
    /// scratch slot for handshake replies and follow-ups. Allocated once per thread.
    final class DatagramBatch {
        let arena: UnsafeMutableRawBufferPointer
        let scratch: UnsafeMutableRawBufferPointer
        let lengths: UnsafeMutablePointer<Int32>
        let addresses: UnsafeMutablePointer<mesh_addr>

        init(stride: Int, count: Int) {
            arena = .allocate(byteCount: stride * count, alignment: 64)
            scratch = .allocate(byteCount: stride, alignment: 64)
            lengths = .allocate(capacity: count)
            addresses = .allocate(capacity: count)
        }

        deinit {
            arena.deallocate(); scratch.deallocate(); lengths.deallocate(); addresses.deallocate()
        }
    }

    /// TUN → UDP: read a burst of packets, route and seal each in place, send them in one sendmmsg.
    /// The batch body is a separate, non-inlined function: it keeps the optimizer's loop passes
    /// from chewing on an endless loop with the whole data path inlined into it.
    final class OutboundWorker {
        let plane: DataPlane
        let batch: DatagramBatch
        var entropy = SystemEntropy()

        init(plane: DataPlane) {
            self.plane = plane
            batch = DatagramBatch(stride: plane.stride, count: plane.batchSize)
        }

        @inline(never)
        func runBatch() {
            let tun = plane.tun, device = plane.device, counters = plane.counters, stride = plane.stride
            let arena = batch.arena
            guard mesh_poll_readable(tun.fd, 1000) > 0 else { return }
            let now = SystemClock.now()
            var count = 0
            var reads = 0
            while reads < plane.batchSize {
                let slot = UnsafeMutableRawBufferPointer(rebasing: arena[count * stride..<(count + 1) * stride])
                let n = tun.read(into: slot.baseAddress! + 16, capacity: stride - 64)
                if n <= 0 { break }
                reads += 1
                counters.packetsFromTunnel.add(1, ordering: .relaxed)
                guard let peer = device.route(packet: UnsafeRawBufferPointer(rebasing: slot[16..<16 + n])) else {
                    counters.drop(.noRoute)
                    continue
                }
                switch device.encapsulate(peer: peer, buffer: slot, packetLength: n, now: now) {
                case .send(let length, let to):
                    var destination = to
                    if let steering = plane.steering {
                        destination = DataPlane.route(UnsafeRawBufferPointer(rebasing: slot[0..<length]), to: to,
                                                      peer: peer, steering: steering, now: now)
                    }
                    if let destination {
                        batch.lengths[count] = Int32(length)
                        batch.addresses[count] = mesh_addr(destination)
                        count += 1
                    }
                case .staged:
                    break
                case .dropped(let reason):
                    counters.drop(reason)
                }
            }
            if count > 0 {
                _ = mesh_send_batch(plane.udp.fd, arena.baseAddress!.assumingMemoryBound(to: UInt8.self), stride,
                                    Int32(count), batch.lengths, batch.addresses)
            }
            if device.hasFollowUps {
                device.serviceFollowUps(now: now, wallClock: SystemClock.wallClock(), entropy: &entropy,
                                        buffer: batch.scratch, send: plane.sendOne)
            }
        }
    }

    /// UDP → TUN: receive a burst with recvmmsg, open each datagram in place, write packets to the TUN.
    final class InboundWorker {
        let plane: DataPlane
        let batch: DatagramBatch
        var entropy = SystemEntropy()

        init(plane: DataPlane) {
            self.plane = plane
            batch = DatagramBatch(stride: plane.stride, count: plane.batchSize)
        }

        @inline(never)
        func runBatch() {
            let stride = plane.stride, counters = plane.counters
            let n = mesh_recv_batch(plane.udp.fd, batch.arena.baseAddress!.assumingMemoryBound(to: UInt8.self), stride, stride,
                                    Int32(plane.batchSize), batch.lengths, batch.addresses)
            if n <= 0 {
                if n < 0 && n != -EINTR && n != -EAGAIN {
                    plane.logger.warning("UDP receive failed: \(SystemError("recvmmsg", code: n))")
                }
                return
            }
            let now = SystemClock.now()
            var wall: TAI64N? = nil
            counters.receivedDatagrams.add(Int(n), ordering: .relaxed)
            for i in 0..<Int(n) {
                handle(index: i, now: now, wall: &wall)
            }
            if plane.device.hasFollowUps {
                plane.device.serviceFollowUps(now: now, wallClock: wall ?? SystemClock.wallClock(), entropy: &entropy,
                                              buffer: batch.scratch, send: plane.sendOne)
            }
        }

        @inline(__always)
        private func handle(index i: Int, now: MonotonicTime, wall: inout TAI64N?) {
            let stride = plane.stride, counters = plane.counters
            let arena = batch.arena, reply = batch.scratch, sources = batch.addresses
            let length = Int(batch.lengths[i])
            guard length >= 0 else { counters.oversized.add(1, ordering: .relaxed); return }
            let datagram = UnsafeMutableRawBufferPointer(rebasing: arena[i * stride..<i * stride + length])
            let kind = DatagramKind.classify(UnsafeRawBufferPointer(datagram))
            guard kind == .wireGuard else {
                if kind != .unknown, let steering = plane.steering {
                    steering.receive(UnsafeRawBufferPointer(datagram), kind: kind, from: sources[i].udpAddress, now: now)
                } else {
                    counters.notWireGuard.add(1, ordering: .relaxed)
                }
                return
            }
            if datagram[0] != 4 && wall == nil { wall = SystemClock.wallClock() }
            switch plane.device.decapsulate(datagram: datagram, from: sources[i].udpAddress, now: now,
                                            wallClock: wall ?? .zero, entropy: &entropy, reply: reply) {
            case .packet(let peer, let offset, let len):
                plane.tun.write(datagram.baseAddress! + offset, length: len)
                counters.packetsToTunnel.add(1, ordering: .relaxed)
                plane.steering?.noteReceived(from: peer, source: sources[i].udpAddress, now: now)
            case .reply(let len, let to, _):
                // From the socket, so there is a source to answer.
                if let to { plane.udp.send(UnsafeRawBufferPointer(rebasing: reply[0..<len]), to: to) }
            case .handshakeCompleted(let peer):
                plane.logger.debug("handshake completed with \(peer.publicKey)")
            case .keepalive, .consumed:
                break
            case .dropped(let reason):
                counters.drop(reason)
            }
        }
    }

    private func timerLoop() {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: stride, alignment: 64)
        defer { scratch.deallocate() }
        var entropy = SystemEntropy()
        while running.get() { tickOnce(scratch: scratch, entropy: &entropy) }
    }

    @inline(never)
    private func tickOnce(scratch: UnsafeMutableRawBufferPointer, entropy: inout SystemEntropy) {
        device.tick(now: SystemClock.now(), wallClock: SystemClock.wallClock(), entropy: &entropy,
                    buffer: scratch, send: sendOne)
        usleep(50_000)
    }
}

/// A flag the data plane's threads poll between batches.
final class ManagedAtomicFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func get() -> Bool { value.load(ordering: .acquiring) }
    func set(_ v: Bool) { value.store(v, ordering: .releasing) }
}
