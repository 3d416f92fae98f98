#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import CMeshShim
import Logging
import MeshBase
import MeshPolicy
import PacketOffload
import WireGuard

/// Moves packets between the TUN device and the UDP socket through the WireGuard `Device`.
/// Three threads: TUN→UDP (read, split super-packets, route, seal, sendmmsg with UDP GSO),
/// UDP→TUN (recvmmsg with UDP GRO, open, merge segments, write) and timers. Buffers are
/// allocated once per thread; the steady-state path allocates nothing.
///
/// Offloads (issue 12): with the TUN's virtio header the kernel hands over 64 KiB TCP (and
/// UDP) super-packets, which `SuperPacketSplitter` cuts into MTU-sized packets straight into
/// the datagram slots; consecutive sealed datagrams to one address go out as one GSO send.
/// On receive, GRO gives runs of datagrams in one buffer; each is opened in place and
/// `SegmentCoalescer` merges the packets back into super-packets for one TUN write each. Every
/// offload falls back on its own: no header (`OffloadSettings`, or the kernel refused it),
/// GSO refused with EIO, no GRO. A lone packet takes the same path as before: read, seal, send
/// at once; nothing waits for a batch to fill.
/// `stop()` ends the threads, so a node can be started and stopped within one process.
///
/// Every decrypted packet, from the socket or a relay, passes the packet filter (`filter`,
/// issue 11) before the TUN write, and every packet read from the TUN is noted by it first;
/// without an enforced policy that is one atomic read per batch and, on the TUN side, a test
/// for a TCP SYN per packet (the SYNs are recorded, see `DataPlaneFilter`).
///
/// Sendable by hand: each worker's buffers belong to its own thread; the relayed-receive
/// scratch buffer and entropy are used only under `relayLock`; `steering` is written before
/// the threads start; `running` is atomic; `filter` guards itself.
public final class DataPlane: @unchecked Sendable {
    public let device: Device
    public let tun: TunDevice
    public let udp: UDPTransport
    public let counters = DataPlaneCounters()
    /// The receiving side's access policy; the netmap follower installs its rules.
    public let filter = DataPlaneFilter()
    /// What a peer's packet may be addressed to (mesh mode: this node's overlay addresses).
    public let localDestinations = LocalDestinations()
    /// Answers for packets to overlay addresses no peer has (see `answerUnroutable`).
    private let noRouteReplies = Mutex(NoRouteReplies())
    /// Mesh mode's path selection; nil in standalone mode. Written only by `start(steering:)`
    /// before the threads that read it exist, so it needs no lock.
    public private(set) var steering: OverlaySteering?
    private let relayLock = Lock()
    private lazy var relayScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: stride, alignment: 64)
    private var relayEntropy = SystemEntropy()
    let logger: Logger
    let batchSize = 64
    let stride: Int
    /// Whether received TCP segments are merged before the TUN write (needs the TUN's header).
    public let coalescing: Bool
    /// Slots of the TUN→UDP batch: with offloads, room for more than two 64 KiB super-packets.
    let outboundSlots: Int
    /// With GRO one receive buffer holds up to 64 KiB of datagrams; this many per recvmmsg.
    static let groMessages = 16
    static let groBufferSize = 65536 + 64

    /// Threads that seal (and, separately, open) one batch: the worker and its helpers.
    public let cryptoThreads: Int

    /// Threads to spread a batch's crypto over: `MESH_CRYPTO_THREADS` (1 = the worker thread
    /// alone, at most 16), else half the machine's cores, at most 4, and 1 below four cores.
    /// Each direction already has its own worker thread, so under load a node keeps two cores
    /// busy without helpers; on two cores, helpers only add wake-ups: measured on this 2-core
    /// lab machine (both ends and iperf3 on it), TCP fell from 3.6-3.8 to 3.0-3.3 Gbit/s with 2.
    public static func cryptoThreads(environment: String?) -> Int {
        if let v = environment.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) { return min(max(v, 1), 16) }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        return cores >= 4 ? min(cores / 2, 4) : 1
    }

    public init(device: Device, tun: TunDevice, udp: UDPTransport, logger: Logger, settings: OffloadSettings = OffloadSettings(),
                cryptoThreads: Int = 1) {
        self.cryptoThreads = max(1, cryptoThreads)
        self.device = device
        self.tun = tun
        self.udp = udp
        self.logger = logger
        self.stride = (max(2048, device.mtu + 128) + 63) & ~63
        coalescing = tun.offloads.virtioHeader && settings.tunCoalescing
        outboundSlots = tun.offloads.virtioHeader ? Int(MESH_BATCH_MAX) : batchSize
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
        carryOut(steering.steer(peer: peer, endpoint: endpoint, now: now), datagram, peer: peer, steering: steering)
    }

    /// A decision carried out for one datagram: the relay's copy sent, the direct address returned.
    @inline(__always)
    static func carryOut(_ decision: SteeringDecision, _ datagram: UnsafeRawBufferPointer, peer: Peer,
                         steering: OverlaySteering) -> UDPAddress? {
        switch decision {
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
        case .packet(let peer, let offset, let len):
            guard localDestinations.admits(UnsafeRawBufferPointer(start: datagram.baseAddress! + offset, count: len)) else {
                counters.notForThisNode.add(1, ordering: .relaxed)
                break
            }
            if filter.isEnforcing {
                let packet = UnsafeRawBufferPointer(start: datagram.baseAddress! + offset, count: len)
                let decision = filter.withFilter { $0.inbound(packet, now: now) } ?? .accept
                guard admits(decision, from: peer, scratch: relayScratch, now: now) else { break }
            }
            // The packet follows its 16-byte transport header: room for the virtio header.
            tun.writePacket(withHeadroom: datagram.baseAddress! + offset, length: len)
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

    /// Carries out a filter decision on a packet from `peer`, after the filter's lock is
    /// released (a reject is sealed and sent, which must not happen under it): true to deliver
    /// the packet; a drop is counted by reason and a reject is sealed back to `peer` at once
    /// (in `scratch`). The one place both receive paths (relay and socket batch) act on a decision.
    @inline(__always)
    func admits(_ decision: FilterDecision, from peer: Peer?, scratch: UnsafeMutableRawBufferPointer, now: MonotonicTime) -> Bool {
        switch decision {
        case .accept:
            return true
        case .drop(let reason):
            counters.filtered(reason)
        case .dropAndReject(let reason, let reply):
            counters.filtered(reason)
            if let peer { sendThroughTunnel(reply, to: peer, buffer: scratch, now: now) }
        }
        return false
    }

    /// Answers a packet read from the TUN that no peer routes (`NoRouteReplies`: ICMP
    /// unreachable for an overlay destination, rate-limited) by writing the answer into the TUN.
    /// Off the common path: the lock and the answer's allocation happen only for unroutable
    /// packets, and the budget bounds how many answers are built.
    func answerUnroutable(_ packet: UnsafeRawBufferPointer, now: MonotonicTime) {
        guard let reply = noRouteReplies.withLock({ $0.reply(to: packet, now: now) }) else { return }
        reply.withUnsafeBytes { tun.writePacket($0) }
        counters.noRouteAnswers.add(1, ordering: .relaxed)
    }

    /// The overlay's prefixes (mesh mode): packets to addresses inside them that no peer routes
    /// are answered with ICMP host unreachable. Unset (standalone mode) nothing is answered.
    public func setOverlayPrefixes(_ prefixes: [IPPrefix]) {
        noRouteReplies.withLock { $0.setOverlayPrefixes(prefixes) }
    }

    /// The overlay addresses of the peers the policy hides from us: packets to them are answered
    /// as administratively prohibited instead of host unreachable.
    public func setHiddenPeerAddresses(_ addresses: [IPAddress]) {
        noRouteReplies.withLock { $0.setHiddenAddresses(addresses) }
    }

    /// Seals an IP packet this node makes (a filter's reject) to `peer` and sends it along the
    /// peer's path, as if it had been read from the TUN. Rejects are rate-limited by the
    /// filter, so this path may allocate (the reply, the send closure).
    func sendThroughTunnel(_ packet: [UInt8], to peer: Peer, buffer: UnsafeMutableRawBufferPointer, now: MonotonicTime) {
        guard packet.count + 16 + 64 <= buffer.count else { return }
        packet.withUnsafeBytes { buffer.baseAddress!.advanced(by: 16).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        switch device.encapsulate(peer: peer, buffer: buffer, packetLength: packet.count, now: now) {
        case .send(let length, let to):
            sendOne(UnsafeRawBufferPointer(rebasing: buffer[0..<length]), to, peer)
            counters.filterRejectsSent.add(1, ordering: .relaxed)
        case .staged:
            counters.filterRejectsSent.add(1, ordering: .relaxed)
        case .dropped(let reason):
            counters.drop(reason)
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
        /// Per slot, the packet in it: outbound its length as read from the TUN; inbound the
        /// decrypted packet's offset and length in the datagram, the peer it came from, the
        /// filter's decision (taken under its lock, once per batch) and whether it is delivered
        /// (that decision carried out after the lock). Kept between the passes of one batch.
        let packetLengths: UnsafeMutablePointer<Int>
        let packetOffsets: UnsafeMutablePointer<Int>
        let packetDecisions: UnsafeMutablePointer<FilterDecision>
        let packetAdmitted: UnsafeMutablePointer<Bool>
        var packetPeers: [Peer?]
        /// GRO segment size per received buffer (0: one datagram).
        let segmentSizes: UnsafeMutablePointer<Int32>
        let count: Int
        /// Packets one batch can hold: `count`, or with GRO up to 64 per buffer.
        let packetCapacity: Int

        init(stride: Int, count: Int, scratchSize: Int, packetCapacity: Int? = nil) {
            let packets = packetCapacity ?? count
            arena = .allocate(byteCount: stride * count, alignment: 64)
            scratch = .allocate(byteCount: scratchSize, alignment: 64)
            lengths = .allocate(capacity: count)
            addresses = .allocate(capacity: count)
            segmentSizes = .allocate(capacity: count)
            packetLengths = .allocate(capacity: packets)
            packetOffsets = .allocate(capacity: packets)
            packetDecisions = .allocate(capacity: packets)
            packetDecisions.initialize(repeating: .accept, count: packets)
            self.count = count
            self.packetCapacity = packets
            packetAdmitted = .allocate(capacity: packets)
            packetPeers = [Peer?](repeating: nil, count: packets)
        }

        deinit {
            arena.deallocate(); scratch.deallocate(); lengths.deallocate(); addresses.deallocate(); segmentSizes.deallocate()
            packetLengths.deallocate(); packetOffsets.deallocate(); packetAdmitted.deallocate()
            packetDecisions.deinitialize(count: packetCapacity); packetDecisions.deallocate()
        }
    }

    /// TUN → UDP: read a burst of packets (splitting super-packets into the slots), let the
    /// filter note them (one lock for the burst), route and seal each in place, send them in
    /// one sendmmsg (runs to one address as one GSO message each). The filter notes a packet
    /// before it is sealed, and so before any copy of it leaves (directly or by a relay): a
    /// reply cannot arrive before its flow exists.
    /// The batch body is a separate, non-inlined function: it keeps the optimizer's loop passes
    /// from chewing on an endless loop with the whole data path inlined into it.
    final class OutboundWorker: BatchShares {
        let plane: DataPlane
        let batch: DatagramBatch
        var entropy = SystemEntropy()
        /// With the virtio header: one TUN read (header and up to 64 KiB of packet).
        let readBuffer: UnsafeMutableRawBufferPointer?
        static let readBufferSize = VirtioNetHeader.size + 65535 + 64
        /// Per slot, the message prepared for sealing (nil: nothing to send from that slot).
        let pending: UnsafeMutablePointer<PendingSeal?>
        let parallel: ParallelBatch

        init(plane: DataPlane) {
            self.plane = plane
            batch = DatagramBatch(stride: plane.stride, count: plane.outboundSlots, scratchSize: plane.stride)
            readBuffer = plane.tun.offloads.virtioHeader
                ? .allocate(byteCount: Self.readBufferSize, alignment: 64) : nil
            pending = .allocate(capacity: plane.outboundSlots)
            pending.initialize(repeating: nil, count: plane.outboundSlots)
            parallel = ParallelBatch(threads: plane.cryptoThreads, minimumShare: 16, name: "mesh-seal")
        }

        deinit {
            parallel.stop()
            readBuffer?.deallocate()
            pending.deinitialize(count: plane.outboundSlots)
            pending.deallocate()
        }

        /// Seals the prepared messages of slots `range`.
        func runShare(_ range: Range<Int>, helper: Int) {
            let arena = batch.arena, stride = plane.stride
            for i in range {
                pending[i]?.seal(UnsafeMutableRawBufferPointer(rebasing: arena[i * stride..<(i + 1) * stride]))
            }
        }

        @inline(never)
        func runBatch() {
            let tun = plane.tun
            guard mesh_poll_readable(tun.fd, 1000) > 0 else { return }
            let now = SystemClock.now()
            if let readBuffer { readFrames(readBuffer, now: now) } else { readPackets(now: now) }
            if plane.device.hasFollowUps {
                plane.device.serviceFollowUps(now: now, wallClock: SystemClock.wallClock(), entropy: &entropy,
                                              buffer: batch.scratch, send: plane.sendOne)
            }
        }

        /// Without the virtio header: one packet per read, straight into its slot.
        @inline(__always)
        private func readPackets(now: MonotonicTime) {
            let arena = batch.arena, stride = plane.stride
            var reads = 0
            while reads < batch.count {
                let n = plane.tun.read(into: arena.baseAddress! + reads * stride + 16, capacity: stride - 64)
                if n <= 0 { break }
                batch.packetLengths[reads] = n
                reads += 1
            }
            if reads > 0 { sealAndSend(reads, now: now) }
        }

        /// With the virtio header: each read is one frame; a lone packet is copied into the
        /// next slot (its partial checksum finished), a super-packet split across as many as
        /// it needs. A full batch is sent at once and the reading goes on, up to `batch.count`
        /// reads, so a burst of super-packets never waits and never overflows the slots.
        @inline(__always)
        private func readFrames(_ readBuffer: UnsafeMutableRawBufferPointer, now: MonotonicTime) {
            let arena = batch.arena, stride = plane.stride, counters = plane.counters
            let slotCapacity = stride - 64
            var used = 0
            for _ in 0..<batch.count {
                let n = plane.tun.read(into: readBuffer.baseAddress!, capacity: readBuffer.count)
                if n <= 0 { break }
                guard let header = VirtioNetHeader(UnsafeRawBufferPointer(start: readBuffer.baseAddress!, count: n)) else {
                    counters.unusableTunnelReads.add(1, ordering: .relaxed)
                    continue
                }
                let packet = readBuffer.baseAddress! + VirtioNetHeader.size
                let length = n - VirtioNetHeader.size
                if header.gsoType == VirtioNetHeader.GSOType.none.rawValue {
                    if header.flags & VirtioNetHeader.needsChecksum != 0,
                       !SuperPacketSplitter.completeChecksum(header: header, packet: packet, length: length) {
                        counters.unusableTunnelReads.add(1, ordering: .relaxed)
                        continue
                    }
                    guard length <= slotCapacity else { counters.drop(.packetTooLarge); continue }
                    if used == batch.count { sealAndSend(used, now: now); used = 0 }
                    (arena.baseAddress! + used * stride + 16).copyMemory(from: packet, byteCount: length)
                    batch.packetLengths[used] = length
                    used += 1
                    continue
                }
                guard var splitter = try? SuperPacketSplitter(header: header, packet: packet, length: length,
                                                               capacity: slotCapacity) else {
                    counters.unusableTunnelReads.add(1, ordering: .relaxed)
                    continue
                }
                counters.superPacketsFromTunnel.add(1, ordering: .relaxed)
                counters.segmentsSplit.add(splitter.segmentCount, ordering: .relaxed)
                while true {
                    if used == batch.count { sealAndSend(used, now: now); used = 0 }
                    guard let m = splitter.next(into: arena.baseAddress! + used * stride + 16) else { break }
                    batch.packetLengths[used] = m
                    used += 1
                }
            }
            if used > 0 { sealAndSend(used, now: now) }
        }

        /// The packets in slots 0..<reads (each at offset 16, `packetLengths`): filter, route,
        /// seal, send.
        @inline(__always)
        private func sealAndSend(_ reads: Int, now: MonotonicTime) {
            let device = plane.device, counters = plane.counters, stride = plane.stride
            let arena = batch.arena
            let packetLengths = batch.packetLengths
            counters.packetsFromTunnel.add(reads, ordering: .relaxed)
            if plane.filter.isEnforcing {
                _ = plane.filter.withFilter { f in
                    for i in 0..<reads {
                        f.outbound(UnsafeRawBufferPointer(start: arena.baseAddress! + i * stride + 16, count: packetLengths[i]), now: now)
                    }
                    return true
                }
            } else {
                // No policy: only our TCP connection starts are recorded (see `DataPlaneFilter`).
                var anyOpen = false
                for i in 0..<reads where OutboundConnectionStart.isTCPOpen(
                    UnsafeRawBufferPointer(start: arena.baseAddress! + i * stride + 16, count: packetLengths[i])) {
                    anyOpen = true
                    break
                }
                if anyOpen {
                    plane.filter.recordOutboundOpens { f in
                        for i in 0..<reads where OutboundConnectionStart.isTCPOpen(
                            UnsafeRawBufferPointer(start: arena.baseAddress! + i * stride + 16, count: packetLengths[i])) {
                            f.outbound(UnsafeRawBufferPointer(start: arena.baseAddress! + i * stride + 16, count: packetLengths[i]), now: now)
                        }
                    }
                }
            }
            // In slot order: the session and counter of each (under its peer's lock), so the
            // peer sees the counters in the order the packets were read.
            var prepared = 0
            for i in 0..<reads {
                let n = packetLengths[i]
                let slot = UnsafeMutableRawBufferPointer(rebasing: arena[i * stride..<(i + 1) * stride])
                guard let peer = device.route(packet: UnsafeRawBufferPointer(rebasing: slot[16..<16 + n])) else {
                    counters.drop(.noRoute)
                    plane.answerUnroutable(UnsafeRawBufferPointer(rebasing: slot[16..<16 + n]), now: now)
                    continue
                }
                switch device.prepareEncapsulation(peer: peer, buffer: slot, packetLength: n, now: now) {
                case .ready(let p):
                    pending[i] = p
                    batch.packetPeers[i] = peer
                    prepared += 1
                case .staged:
                    break
                case .dropped(let reason):
                    counters.drop(reason)
                }
            }
            // The encryption, spread over the cores when the batch is big enough.
            if prepared > 0, parallel.run(reads, self) { counters.parallelBatches.add(1, ordering: .relaxed) }
            var count = 0
            // One steering decision per peer per batch: the same clock reading gives the same
            // answer, and a batch is mostly one peer's (a super-packet's segments).
            var decidedFor: Peer? = nil
            var decision = SteeringDecision.drop
            for i in 0..<reads {
                guard let p = pending[i], let peer = batch.packetPeers[i] else { continue }
                pending[i] = nil
                batch.packetPeers[i] = nil
                let slot = UnsafeMutableRawBufferPointer(rebasing: arena[i * stride..<(i + 1) * stride])
                var destination = p.destination
                if let steering = plane.steering {
                    if decidedFor !== peer {
                        decision = steering.steer(peer: peer, endpoint: p.destination, now: now)
                        decidedFor = peer
                    }
                    destination = DataPlane.carryOut(decision, UnsafeRawBufferPointer(rebasing: slot[0..<p.length]),
                                                     peer: peer, steering: steering)
                }
                if let destination {
                    // sendmmsg takes consecutive slots: close the gap an earlier packet
                    // (relayed, staged, without a route) left.
                    if count != i {
                        (arena.baseAddress! + count * stride).copyMemory(from: slot.baseAddress!, byteCount: p.length)
                    }
                    batch.lengths[count] = Int32(p.length)
                    batch.addresses[count] = mesh_addr(destination)
                    count += 1
                }
            }
            if count > 0 { send(count) }
        }

        /// Slots 0..<count to the socket: with GSO, runs to one address as one message each;
        /// when the kernel refuses GSO, the rest one datagram per message, and GSO stays off.
        @inline(__always)
        private func send(_ count: Int) {
            let udp = plane.udp, arena = batch.arena.baseAddress!.assumingMemoryBound(to: UInt8.self), stride = plane.stride
            var first = 0
            if udp.gsoEnabled && count > 1 {
                var refused: Int32 = 0
                let sent = mesh_send_batch_gso(udp.fd, arena, stride, Int32(count), batch.lengths, batch.addresses, 64, &refused)
                if refused == 0 {
                    if sent > 1 { plane.counters.gsoSends.add(1, ordering: .relaxed) }
                    return
                }
                if udp.noteGSORefused() {
                    plane.logger.notice("UDP GSO refused by the kernel (EIO: the route's device cannot checksum); sending one datagram per message from now on")
                }
                first = Int(max(0, sent))
            }
            guard first < count else { return }
            _ = mesh_send_batch(udp.fd, arena + first * stride, stride, Int32(count - first),
                                batch.lengths + first, batch.addresses + first)
        }
    }

    /// UDP → TUN: receive a burst with recvmmsg (with GRO, buffers of up to 64 KiB of
    /// datagrams each), open each datagram in place, write the packets to the TUN (merged into
    /// super-packets where the TUN takes them).
    final class InboundWorker: BatchShares {
        let plane: DataPlane
        let batch: DatagramBatch
        let bufferSize: Int
        let coalescer: SegmentCoalescer?
        var entropy = SystemEntropy()
        /// The batch's transport messages (where in the arena, how long, which receive buffer
        /// they came in) and what opening each gave (the packet's offset and length, -1 for
        /// none, and its peer): written by whichever thread opened it, read in order after.
        let workOffsets: UnsafeMutablePointer<Int>
        let workLengths: UnsafeMutablePointer<Int>
        let workSources: UnsafeMutablePointer<Int>
        let resultOffsets: UnsafeMutablePointer<Int>
        let resultLengths: UnsafeMutablePointer<Int>
        let resultPeers: UnsafeMutablePointer<Peer?>
        let workCapacity: Int
        var work = 0
        var batchTime = MonotonicTime(nanoseconds: 0)
        let parallel: ParallelBatch
        /// A scratch slot per thread for replies.
        let scratches: UnsafeMutableRawBufferPointer

        init(plane: DataPlane) {
            self.plane = plane
            if plane.udp.groEnabled {
                bufferSize = DataPlane.groBufferSize
                batch = DatagramBatch(stride: bufferSize, count: DataPlane.groMessages, scratchSize: plane.stride,
                                      packetCapacity: DataPlane.groMessages * 64)
            } else {
                bufferSize = plane.stride
                batch = DatagramBatch(stride: plane.stride, count: plane.batchSize, scratchSize: plane.stride)
            }
            coalescer = plane.coalescing ? SegmentCoalescer(mergesUDP: plane.tun.offloads.udpSegmentation) : nil
            workCapacity = batch.packetCapacity
            workOffsets = .allocate(capacity: workCapacity)
            workLengths = .allocate(capacity: workCapacity)
            workSources = .allocate(capacity: workCapacity)
            resultOffsets = .allocate(capacity: workCapacity)
            resultLengths = .allocate(capacity: workCapacity)
            resultPeers = .allocate(capacity: workCapacity)
            resultPeers.initialize(repeating: nil, count: workCapacity)
            parallel = ParallelBatch(threads: plane.cryptoThreads, minimumShare: 16, name: "mesh-open")
            scratches = .allocate(byteCount: plane.stride * parallel.threads, alignment: 64)
        }

        deinit {
            parallel.stop()
            workOffsets.deallocate(); workLengths.deallocate(); workSources.deallocate()
            resultOffsets.deallocate(); resultLengths.deallocate()
            resultPeers.deinitialize(count: workCapacity); resultPeers.deallocate()
            scratches.deallocate()
        }

        /// Opens transport messages `range` of the work list (on the owner or a helper).
        func runShare(_ range: Range<Int>, helper: Int) {
            let stride = plane.stride
            let reply = UnsafeMutableRawBufferPointer(rebasing: scratches[helper * stride..<(helper + 1) * stride])
            var entropy = SystemEntropy()
            let arena = batch.arena, now = batchTime
            for j in range {
                resultLengths[j] = -1
                let source = batch.addresses[workSources[j]].udpAddress
                let datagram = UnsafeMutableRawBufferPointer(rebasing: arena[workOffsets[j]..<workOffsets[j] + workLengths[j]])
                switch plane.device.decapsulate(datagram: datagram, from: source, now: now, wallClock: .zero,
                                                entropy: &entropy, reply: reply) {
                case .packet(let peer, let packetOffset, let len):
                    resultOffsets[j] = workOffsets[j] + packetOffset
                    resultLengths[j] = len
                    resultPeers[j] = peer
                case .reply(let len, let to, _):
                    if let to { plane.udp.send(UnsafeRawBufferPointer(rebasing: reply[0..<len]), to: to) }
                case .handshakeCompleted(let peer):
                    plane.logger.debug("handshake completed with \(peer.publicKey)")
                case .keepalive, .consumed:
                    break
                case .dropped(let reason):
                    plane.counters.drop(reason)
                }
            }
        }

        /// Opens the work list (spread over the cores when it is long), then delivers its
        /// packets in the order they arrived.
        private func processWork(now: MonotonicTime) {
            guard work > 0 else { return }
            batchTime = now
            if parallel.run(work, self) { plane.counters.parallelBatches.add(1, ordering: .relaxed) }
            var packets = 0
            let enforcing = plane.filter.isEnforcing
            // The path layer hears once per peer and source per batch (same clock reading).
            var noted: Peer? = nil
            var notedSource = -1
            for j in 0..<work {
                let peer = resultPeers[j]
                resultPeers[j] = nil
                guard resultLengths[j] >= 0 else { continue }
                if let steering = plane.steering, let peer, peer !== noted || workSources[j] != notedSource {
                    steering.noteReceived(from: peer, source: batch.addresses[workSources[j]].udpAddress, now: now)
                    noted = peer
                    notedSource = workSources[j]
                }
                batch.packetOffsets[packets] = resultOffsets[j]
                batch.packetLengths[packets] = resultLengths[j]
                if enforcing { batch.packetPeers[packets] = peer }
                packets += 1
            }
            work = 0
            if packets > 0 { deliver(packets, now: now) }
        }

        @inline(never)
        func runBatch() {
            let counters = plane.counters, arena = batch.arena.baseAddress!.assumingMemoryBound(to: UInt8.self)
            let n = plane.udp.groEnabled
                ? mesh_recv_batch_gro(plane.udp.fd, arena, bufferSize, bufferSize, Int32(batch.count),
                                      batch.lengths, batch.addresses, batch.segmentSizes)
                : mesh_recv_batch(plane.udp.fd, arena, bufferSize, bufferSize, Int32(batch.count), batch.lengths, batch.addresses)
            if n <= 0 {
                if n < 0 && n != -EINTR && n != -EAGAIN {
                    plane.logger.warning("UDP receive failed: \(SystemError("recvmmsg", code: n))")
                }
                return
            }
            let now = SystemClock.now()
            var wall: TAI64N? = nil
            let arena8 = batch.arena.baseAddress!
            // Transport datagrams and oversized ones, counted once for the batch (`handle`
            // counts the rest).
            var datagrams = 0
            defer { counters.receivedDatagrams.add(datagrams, ordering: .relaxed) }
            for i in 0..<Int(n) {
                let length = Int(batch.lengths[i])
                guard length >= 0 else {
                    datagrams += 1
                    counters.oversized.add(1, ordering: .relaxed)
                    continue
                }
                let segment = plane.udp.groEnabled && batch.segmentSizes[i] > 0 ? Int(batch.segmentSizes[i]) : length
                if segment < length { counters.groReceives.add(1, ordering: .relaxed) }
                var offset = 0
                while offset < length || (length == 0 && offset == 0) {
                    let size = min(segment, length - offset)
                    let at = i * bufferSize + offset
                    if size >= MessageLayout.transportHeaderSize + MessageLayout.tagSize
                        && arena8.load(fromByteOffset: at, as: UInt32.self) == UInt32(4).littleEndian {
                        // Transport data: onto the work list, opened together (`processWork`).
                        datagrams += 1
                        if work == workCapacity { processWork(now: now) }
                        workOffsets[work] = at
                        workLengths[work] = size
                        workSources[work] = i
                        work += 1
                    } else {
                        // Anything else (handshakes, disco, STUN, junk) after what came before it.
                        processWork(now: now)
                        var packets = 0
                        handle(at: at, length: size, source: i, now: now, wall: &wall, packets: &packets)
                        if packets > 0 { deliver(packets, now: now) }
                    }
                    if segment == 0 { break }
                    offset += segment
                }
            }
            processWork(now: now)
            if plane.device.hasFollowUps {
                plane.device.serviceFollowUps(now: now, wallClock: wall ?? SystemClock.wallClock(), entropy: &entropy,
                                              buffer: batch.scratch, send: plane.sendOne)
            }
        }

        /// The batch's decrypted packets (`count`, each in its datagram's slot) to the TUN,
        /// those the filter admits; one lock for the whole batch.
        @inline(__always)
        private func deliver(_ count: Int, now: MonotonicTime) {
            let counters = plane.counters, arena = batch.arena
            let offsets = batch.packetOffsets, lengths = batch.packetLengths, admitted = batch.packetAdmitted
            let decisions = batch.packetDecisions
            var judged = false
            if plane.filter.isEnforcing {
                // nil: the policy went away since `isEnforcing` was read; deliver everything.
                judged = plane.filter.withFilter { f in
                    for k in 0..<count {
                        decisions[k] = f.inbound(UnsafeRawBufferPointer(start: arena.baseAddress! + offsets[k], count: lengths[k]), now: now)
                    }
                    return true
                } != nil
                if judged {
                    for k in 0..<count {
                        let decision = decisions[k]
                        decisions[k] = .accept  // a reject's reply is not kept past the batch
                        admitted[k] = plane.admits(decision, from: batch.packetPeers[k], scratch: batch.scratch, now: now)
                    }
                }
            }
            let destinations = plane.localDestinations, tun = plane.tun
            var delivered = 0
            for k in 0..<count where !judged || admitted[k] {
                guard destinations.admits(UnsafeRawBufferPointer(start: arena.baseAddress! + offsets[k], count: lengths[k])) else {
                    counters.notForThisNode.add(1, ordering: .relaxed)
                    continue
                }
                // Every packet follows its 16-byte transport header: room for the virtio header.
                if let coalescer {
                    coalescer.add(arena.baseAddress! + offsets[k], length: lengths[k]) { tun.writeFrame($0) }
                } else {
                    tun.writePacket(withHeadroom: arena.baseAddress! + offsets[k], length: lengths[k])
                }
                delivered += 1
            }
            if let coalescer {
                let merged = coalescer.coalescedSegments, supers = coalescer.superPackets
                coalescer.flush { tun.writeFrame($0) }
                counters.segmentsCoalesced.add(coalescer.coalescedSegments - merged, ordering: .relaxed)
                counters.superPacketsToTunnel.add(coalescer.superPackets - supers, ordering: .relaxed)
            }
            counters.packetsToTunnel.add(delivered, ordering: .relaxed)
            // The peers were kept only for rejects; do not hold them past the batch.
            if judged { for k in 0..<count { batch.packetPeers[k] = nil } }
        }

        /// One datagram at `offset` in the arena (`length` bytes, from source slot `source`).
        @inline(__always)
        private func handle(at offset: Int, length: Int, source: Int, now: MonotonicTime, wall: inout TAI64N?, packets: inout Int) {
            let counters = plane.counters
            let arena = batch.arena, reply = batch.scratch, sources = batch.addresses
            counters.receivedDatagrams.add(1, ordering: .relaxed)
            let datagram = UnsafeMutableRawBufferPointer(rebasing: arena[offset..<offset + length])
            let kind = DatagramKind.classify(UnsafeRawBufferPointer(datagram))
            guard kind == .wireGuard else {
                if kind != .unknown, let steering = plane.steering {
                    steering.receive(UnsafeRawBufferPointer(datagram), kind: kind, from: sources[source].udpAddress, now: now)
                } else {
                    counters.notWireGuard.add(1, ordering: .relaxed)
                }
                return
            }
            if datagram[0] != 4 && wall == nil { wall = SystemClock.wallClock() }
            switch plane.device.decapsulate(datagram: datagram, from: sources[source].udpAddress, now: now,
                                            wallClock: wall ?? .zero, entropy: &entropy, reply: reply) {
            case .packet(let peer, let packetOffset, let len):
                // Delivered after the batch, through the filter (`deliver`).
                batch.packetOffsets[packets] = offset + packetOffset
                batch.packetLengths[packets] = len
                if plane.filter.isEnforcing { batch.packetPeers[packets] = peer }
                packets += 1
                plane.steering?.noteReceived(from: peer, source: sources[source].udpAddress, now: now)
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
