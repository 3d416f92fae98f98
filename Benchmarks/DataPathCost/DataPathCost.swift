// data-path-cost: what each hot function of the data path costs per packet (issue 12, item 6's
// microbenchmarks), in nanoseconds and heap allocations, in process, one thread:
//
//   seal          Device.encapsulate to a peer with an established session; raw ChaChaPoly.sealInPlace
//   open          Device.decapsulate of sealed datagrams; raw ChaChaPoly.openInPlace
//   replay check  ReplayWindow.mayAccept + accept (what decapsulate does), in order and out of order
//   routing       Device.route(packet:) with 1 peer, and 100 peers with 1000 allowed IPs (/32s, /24s)
//   segmentation  SuperPacketSplitter on a 64 KiB TCP/IPv4 super-packet, gsoSize 1368
//   coalescing    SegmentCoalescer: 45 back-to-back segments into one super-packet; UDP passing through
//   checksum      InternetChecksum.sum (and fold) over 1420 bytes
//
// Each case: one warm-up round, then ROUNDS rounds sized to take ~50 ms each; the table gives
// the median round's ns per op (and the spread of the rounds), and the heap allocations made
// in the measured rounds per op. The data path must allocate nothing per packet: the program
// exits 1 when any case allocated.
//
//   swift build -c release --product data-path-cost && $(swift build -c release --show-bin-path)/data-path-cost [ROUNDS]
import CAllocationCounter
import Foundation
import MeshCrypto
import PacketOffload
import WireGuard

let rounds = CommandLine.arguments.count > 1 ? max(3, Int(CommandLine.arguments[1]) ?? 7) : 7
let targetRoundNanoseconds: UInt64 = 50_000_000
let packetLength = 1420

// MARK: - Harness

@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Time and allocations of the measured stretches of a round; a case whose ops need untimed
/// preparation (sealing what it then opens) starts and stops it around the part that counts.
struct Meter {
    private(set) var nanoseconds: UInt64 = 0
    private(set) var allocations: UInt64 = 0
    private var t0: UInt64 = 0, a0: UInt64 = 0

    @inline(__always) mutating func start() {
        a0 = mesh_allocations_this_thread()
        t0 = monotonicNanoseconds()
    }

    @inline(__always) mutating func stop() {
        let t = monotonicNanoseconds()
        nanoseconds += t - t0
        allocations += mesh_allocations_this_thread() - a0
    }
}

/// Keeps a result alive so the optimizer cannot drop the work that made it.
@inline(never)
func keep(_ value: UInt64) {
    if value == 0x5eed_5eed_5eed_5eed { print("", terminator: "") }
}

struct Row {
    var name: String
    var nsPerOp: Double
    var minNs: Double
    var maxNs: Double
    var bytesPerOp: Int
    var allocationsPerOp: Double
    var allocations: UInt64
}

var rows: [Row] = []

/// Runs `body(&meter, n)` (n ops, a multiple of `granularity`) once to warm up and size the
/// rounds, then `rounds` times measured. `unitsPerOp` > 1 adds a row per unit (per segment).
@MainActor func measure(_ name: String, bytesPerOp: Int = 0, granularity: Int = 1,
             perUnit: (name: String, units: Int, bytesPerUnit: Int)? = nil,
             _ body: (inout Meter, Int) -> Void) {
    func rounded(_ n: Int) -> Int { max(granularity, (n + granularity - 1) / granularity * granularity) }
    var warm = Meter()
    let probe = rounded(1000)
    body(&warm, probe)
    let perOpGuess = max(1.0, Double(warm.nanoseconds) / Double(probe))
    let n = rounded(Int(Double(targetRoundNanoseconds) / perOpGuess))
    var warmRound = Meter()
    body(&warmRound, n)
    var samples: [Double] = []
    var allocations: UInt64 = 0
    for _ in 0..<rounds {
        var m = Meter()
        body(&m, n)
        samples.append(Double(m.nanoseconds) / Double(n))
        allocations += m.allocations
    }
    samples.sort()
    let total = Double(rounds * n)
    rows.append(Row(name: name, nsPerOp: samples[samples.count / 2], minNs: samples.first!, maxNs: samples.last!,
                    bytesPerOp: bytesPerOp, allocationsPerOp: Double(allocations) / total, allocations: allocations))
    if let perUnit {
        let u = Double(perUnit.units)
        rows.append(Row(name: perUnit.name, nsPerOp: samples[samples.count / 2] / u, minNs: samples.first! / u,
                        maxNs: samples.last! / u, bytesPerOp: perUnit.bytesPerUnit,
                        allocationsPerOp: Double(allocations) / (total * u), allocations: allocations))
    }
}

/// A case whose every op is measured.
@MainActor func measureLoop(_ name: String, bytesPerOp: Int = 0, granularity: Int = 1,
                 perUnit: (name: String, units: Int, bytesPerUnit: Int)? = nil, _ loop: (Int) -> Void) {
    measure(name, bytesPerOp: bytesPerOp, granularity: granularity, perUnit: perUnit) { m, n in
        m.start()
        loop(n)
        m.stop()
    }
}

/// Packet-sized buffers that live for the whole run (one allocation each, before any measurement).
func slots(_ count: Int, size: Int = 2048) -> [UnsafeMutableRawBufferPointer] {
    (0..<count).map { _ in
        let b = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
        b.initializeMemory(as: UInt8.self, repeating: 0)
        return b
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data(("data-path-cost: " + message + "\n").utf8))
    exit(2)
}

// MARK: - Packets (the way Tests/PacketOffloadTests/PacketBuilder.swift builds them)

enum Packets {
    static let source: [UInt8] = [10, 0, 0, 1], destination: [UInt8] = [10, 0, 0, 2]
    /// TCP timestamps, as Linux sends them: 32-byte TCP headers, so 1368 payload bytes fill 1420.
    static let timestamps: [UInt8] = [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]

    static func be16(_ v: Int) -> [UInt8] { [UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }

    /// RFC 1071 a big-endian word at a time (not `InternetChecksum`, which is measured).
    static func checksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var i = 0
        while i + 1 < bytes.count { sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1]); i += 2 }
        if i < bytes.count { sum += UInt32(bytes[i]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }

    static func pseudo(proto: UInt8, length: Int) -> [UInt8] { source + destination + [0, proto] + be16(length) }

    static func ipv4(proto: UInt8, l4: [UInt8], id: Int = 0x1234) -> [UInt8] {
        var h: [UInt8] = [0x45, 0] + be16(min(65535, 20 + l4.count)) + be16(id) + [0x40, 0, 64, proto, 0, 0] + source + destination
        let c = checksum(h)
        h[10] = UInt8(c >> 8); h[11] = UInt8(c & 0xff)
        return h + l4
    }

    static func tcp(seq: UInt32, flags: UInt8 = 0x10, payload: [UInt8], id: Int = 0x1234) -> [UInt8] {
        let offset = UInt8((20 + timestamps.count) / 4) << 4
        var l4 = be16(40000) + be16(5201) + be32(seq) + be32(7777) + [offset, flags] + be16(502) + [0, 0, 0, 0] + timestamps + payload
        let c = checksum(pseudo(proto: 6, length: l4.count) + l4)
        l4[16] = UInt8(c >> 8); l4[17] = UInt8(c & 0xff)
        return ipv4(proto: 6, l4: l4, id: id)
    }

    static func udp(payload: [UInt8], sourcePort: Int = 40001) -> [UInt8] {
        var l4 = be16(sourcePort) + be16(5201) + be16(8 + payload.count) + [0, 0] + payload
        var c = checksum(pseudo(proto: 17, length: l4.count) + l4)
        if c == 0 { c = 0xffff }
        l4[6] = UInt8(c >> 8); l4[7] = UInt8(c & 0xff)
        return ipv4(proto: 17, l4: l4)
    }

    static func payload(_ count: Int, seed: Int = 1) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 31) &+ seed &* 7 &+ ($0 >> 8)) }
    }
}

extension UnsafeMutableRawBufferPointer {
    func put(_ bytes: [UInt8], at offset: Int) {
        bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: self[offset..<offset + $0.count]).copyMemory(from: $0) }
    }
}

// MARK: - Two devices with an established session, A -> B (as Tests/WireGuardTests/InMemoryPair does, without the network)

let now = MonotonicTime(nanoseconds: 1_000_000_000)
let wall = TAI64N(unixSeconds: 1_800_000_000, nanoseconds: 0)
let addressA = UDPAddress(ipv4: 192, 0, 2, 1, port: 51820)
let addressB = UDPAddress(ipv4: 192, 0, 2, 2, port: 51820)
var seedKeys = SeededEntropy(seed: 99)
let keyA = PrivateKey.generate(using: &seedKeys), keyB = PrivateKey.generate(using: &seedKeys)
let deviceA = Device(privateKey: keyA, mtu: packetLength), deviceB = Device(privateKey: keyB, mtu: packetLength)
let bAtA: Peer, aAtB: Peer
do {
    bAtA = try deviceA.addPeer(publicKey: keyB.publicKey, endpoint: addressB, allowedIPs: [(Packets.destination, 32)], now: now)
    aAtB = try deviceB.addPeer(publicKey: keyA.publicKey, endpoint: addressA, allowedIPs: [(Packets.source, 32)], now: now)
} catch { fail("addPeer: \(error)") }
var entropyA = SeededEntropy(seed: 11), entropyB = SeededEntropy(seed: 22)
let scratch = slots(3, size: 4096)
let innerPacket = Packets.udp(payload: Packets.payload(packetLength - 28))
precondition(innerPacket.count == packetLength)
do {
    guard let (n, _) = deviceA.createInitiation(peer: bAtA, now: now, wallClock: wall, entropy: &entropyA, into: scratch[0])
    else { fail("no initiation") }
    guard case .reply(let m, _, _) = deviceB.decapsulate(datagram: UnsafeMutableRawBufferPointer(rebasing: scratch[0][0..<n]),
                                                         from: addressA, now: now, wallClock: wall, entropy: &entropyB, reply: scratch[1])
    else { fail("B did not answer the initiation") }
    guard case .handshakeCompleted = deviceA.decapsulate(datagram: UnsafeMutableRawBufferPointer(rebasing: scratch[1][0..<m]),
                                                         from: addressB, now: now, wallClock: wall, entropy: &entropyA, reply: scratch[2])
    else { fail("A did not complete the handshake") }
    // B's session becomes current with the first transport message it opens.
    scratch[0].put(innerPacket, at: 16)
    guard case .send(let len, _) = deviceA.encapsulate(peer: bAtA, buffer: scratch[0], packetLength: packetLength, now: now),
          case .packet(_, _, let inner) = deviceB.decapsulate(datagram: UnsafeMutableRawBufferPointer(rebasing: scratch[0][0..<len]),
                                                               from: addressA, now: now, wallClock: wall, entropy: &entropyB, reply: scratch[1]),
          inner == packetLength
    else { fail("no transport message through the new session") }
}
let sealedLength = deviceA.transportSize(forPacketLength: packetLength)

// MARK: - seal

do {
    let buffer = slots(1)[0]
    buffer.put(innerPacket, at: 16)
    measureLoop("seal: `Device.encapsulate`, \(packetLength) B", bytesPerOp: packetLength) { n in
        var total = 0
        for _ in 0..<n {
            if case .send(let len, _) = deviceA.encapsulate(peer: bAtA, buffer: buffer, packetLength: packetLength, now: now) { total &+= len }
        }
        if total != n * sealedLength { fail("encapsulate did not send every packet") }
    }
    var key = SIMD32<UInt8>(repeating: 0x42)
    withUnsafeBytes(of: &key) { k in
        var counter: UInt64 = 0
        measureLoop("seal: raw `ChaChaPoly.sealInPlace`, \(packetLength) B", bytesPerOp: packetLength) { n in
            for _ in 0..<n {
                ChaChaPoly.sealInPlace(key: k.baseAddress!, counter: counter, buffer: buffer.baseAddress! + 16, length: packetLength)
                counter &+= 1
            }
            keep(UInt64(buffer[16 + packetLength]))
        }
    }
    for backend in [TransportCipher.Backend.boringSSL, .libsodium] {
        let cipher = TransportCipher(key: key, preferring: backend)
        var counter: UInt64 = 0
        measureLoop("seal: `TransportCipher` (\(cipher.backend)), \(packetLength) B", bytesPerOp: packetLength) { n in
            for _ in 0..<n {
                cipher.sealInPlace(counter: counter, buffer: buffer.baseAddress! + 16, length: packetLength)
                counter &+= 1
            }
            keep(UInt64(buffer[16 + packetLength]))
        }
    }
}

// MARK: - open

/// Datagrams are sealed (untimed) a batch at a time into their own slots, then opened timed:
/// a batch of 16 stays in L1/L2 as a receive batch would.
let openBatch = 16
do {
    let batch = slots(openBatch)
    measure("open: `Device.decapsulate`, \(packetLength) B", bytesPerOp: packetLength, granularity: openBatch) { m, n in
        var opened = 0
        for _ in 0..<(n / openBatch) {
            for s in batch {
                s.put(innerPacket, at: 16)
                guard case .send = deviceA.encapsulate(peer: bAtA, buffer: s, packetLength: packetLength, now: now) else { fail("encapsulate") }
            }
            m.start()
            for s in batch {
                if case .packet(_, _, let len) = deviceB.decapsulate(datagram: UnsafeMutableRawBufferPointer(rebasing: s[0..<sealedLength]),
                                                                     from: addressA, now: now, wallClock: wall, entropy: &entropyB,
                                                                     reply: scratch[1]) { opened &+= len }
            }
            m.stop()
        }
        if opened != n * packetLength { fail("decapsulate did not deliver every packet") }
    }
    var key = SIMD32<UInt8>(repeating: 0x42)
    withUnsafeBytes(of: &key) { k in
        var counter: UInt64 = 0
        measure("open: raw `ChaChaPoly.openInPlace`, \(packetLength) B", bytesPerOp: packetLength, granularity: openBatch) { m, n in
            var opened = 0
            for _ in 0..<(n / openBatch) {
                let first = counter
                for s in batch {
                    ChaChaPoly.sealInPlace(key: k.baseAddress!, counter: counter, buffer: s.baseAddress! + 16, length: packetLength)
                    counter &+= 1
                }
                var c = first
                m.start()
                for s in batch {
                    opened &+= ChaChaPoly.openInPlace(key: k.baseAddress!, counter: c, buffer: s.baseAddress! + 16,
                                                      length: packetLength + ChaChaPoly.tagLength) ?? 0
                    c &+= 1
                }
                m.stop()
            }
            if opened != n * packetLength { fail("openInPlace refused a packet") }
        }
    }
    for backend in [TransportCipher.Backend.boringSSL, .libsodium] {
        let cipher = TransportCipher(key: key, preferring: backend)
        var counter: UInt64 = 0
        measure("open: `TransportCipher` (\(cipher.backend)), \(packetLength) B", bytesPerOp: packetLength, granularity: openBatch) { m, n in
            var opened = 0
            for _ in 0..<(n / openBatch) {
                let first = counter
                for s in batch {
                    cipher.sealInPlace(counter: counter, buffer: s.baseAddress! + 16, length: packetLength)
                    counter &+= 1
                }
                var c = first
                m.start()
                for s in batch {
                    opened &+= cipher.openInPlace(counter: c, buffer: s.baseAddress! + 16, length: packetLength + ChaChaPoly.tagLength) ?? 0
                    c &+= 1
                }
                m.stop()
            }
            if opened != n * packetLength { fail("TransportCipher refused a packet") }
        }
    }
}

// MARK: - replay check

// A window is made per session (its blocks allocated once): before the clock starts.
measure("replay check: `ReplayWindow` in order (mayAccept + accept)") { m, n in
    var window = ReplayWindow()
    var accepted: UInt64 = 0
    m.start()
    for i in 0..<UInt64(n) {
        if window.mayAccept(i) && window.accept(i) { accepted &+= 1 }
    }
    m.stop()
    if accepted != UInt64(n) { fail("in-order counters refused") }
}
measure("replay check: `ReplayWindow` out of order within 64") { m, n in
    // Each run of 64 counters in a scrambled order (37 is odd: a permutation of 0..<64).
    var window = ReplayWindow()
    var accepted: UInt64 = 0
    m.start()
    for i in 0..<UInt64(n) {
        let c = (i & ~63) | ((i &* 37) & 63)
        if window.mayAccept(c) && window.accept(c) { accepted &+= 1 }
    }
    m.stop()
    if accepted != UInt64(n) { fail("out-of-order counters refused") }
}

// MARK: - routing lookup

do {
    let packet = slots(1)[0]
    packet.put(innerPacket, at: 0)
    let header = UnsafeRawBufferPointer(rebasing: packet[0..<packetLength])
    measureLoop("routing: `Device.route`, 1 peer") { n in
        var found: UInt64 = 0
        for _ in 0..<n where deviceA.route(packet: header) === bAtA { found &+= 1 }
        if found != UInt64(n) { fail("route missed the peer") }
    }
    // 100 peers with 10 allowed IPs each: host routes (a hash probe), then /24s (scanned longest first).
    for hosts in [true, false] {
        var seed = SeededEntropy(seed: 7)
        let device = Device(privateKey: PrivateKey.generate(using: &seed), mtu: packetLength)
        var destinations: [UInt32] = []
        for i in 0..<100 {
            let routes: [(address: [UInt8], prefixLength: Int)] = (0..<10).map { j in
                hosts ? ([10, 1, UInt8(i), UInt8(j)], 32) : ([10, UInt8(i + 1), UInt8(j), 0], 24)
            }
            do { _ = try device.addPeer(publicKey: PrivateKey.generate(using: &seed).publicKey, allowedIPs: routes, now: now) }
            catch { fail("addPeer: \(error)") }
            for r in routes { destinations.append(r.address.reduce(UInt32(0)) { $0 << 8 | UInt32($1) } | (hosts ? 0 : 7)) }
        }
        let name = hosts ? "routing: `Device.route`, 100 peers, 1000 /32s" : "routing: `Device.route`, 100 peers, 1000 /24s"
        destinations.withUnsafeBufferPointer { d in
            measureLoop(name) { n in
                var found: UInt64 = 0
                var k = 0
                for _ in 0..<n {
                    // Every destination in turn, written into the packet's header.
                    packet.storeBytes(of: d[k].bigEndian, toByteOffset: 16, as: UInt32.self)
                    k = k == d.count - 1 ? 0 : k + 1
                    if device.route(packet: header) != nil { found &+= 1 }
                }
                if found != UInt64(n) { fail("route missed a peer") }
            }
        }
    }
}

// MARK: - segmentation

do {
    // A 64 KiB TSO super-packet as the TUN hands it over: 52 header bytes, 65483 payload bytes.
    let headers = 52, gso = 1368
    let superPacket = Packets.tcp(seq: 0x1000_0000, flags: 0x18, payload: Packets.payload(65535 - headers))
    precondition(superPacket.count == 65535)
    let segments = (superPacket.count - headers + gso - 1) / gso
    let input = UnsafeMutableRawBufferPointer.allocate(byteCount: superPacket.count, alignment: 64)
    input.put(superPacket, at: 0)
    let header = VirtioNetHeader(flags: VirtioNetHeader.needsChecksum, gsoType: VirtioNetHeader.GSOType.tcpV4.rawValue,
                                 headerLength: UInt16(headers), gsoSize: UInt16(gso), checksumStart: 20, checksumOffset: 16)
    // Each segment into its own datagram slot, after the transport header's 16 bytes, as the node does.
    let out = slots(segments)
    let expected = superPacket.count + (segments - 1) * headers
    measureLoop("segmentation: `SuperPacketSplitter`, 64 KiB TCP/IPv4 into \(segments) × ≤1420 B, per super-packet",
                bytesPerOp: superPacket.count,
                perUnit: ("segmentation: the same, per segment", segments, gso + headers)) { n in
        for _ in 0..<n {
            guard var splitter = try? SuperPacketSplitter(header: header, packet: input.baseAddress!, length: superPacket.count, capacity: 1500)
            else { fail("splitter refused the super-packet") }
            var written = 0
            for k in 0..<min(splitter.segmentCount, segments) {
                if let len = splitter.next(into: out[k].baseAddress! + 16) { written &+= len }
            }
            if written != expected || splitter.next(into: out[0].baseAddress! + 16) != nil { fail("segments do not add up: \(written) != \(expected)") }
        }
    }
    // The first and last segments verify against the reference checksum.
    for k in [0, segments - 1] {
        let len = Int(out[k][16 + 2]) << 8 | Int(out[k][16 + 3])
        let seg = Array(out[k][16..<16 + len])
        if Packets.checksum(Array(seg[0..<20])) != 0 || Packets.checksum(Packets.pseudo(proto: 6, length: len - 20) + Array(seg[20...])) != 0 {
            fail("segment \(k)'s checksums do not verify")
        }
    }
}

// MARK: - coalescing

do {
    let count = 45, gso = 1368
    let batch = slots(count)
    for i in 0..<count {
        let segment = Packets.tcp(seq: 1000 &+ UInt32(i * gso), flags: i == count - 1 ? 0x18 : 0x10,
                                  payload: Packets.payload(gso, seed: i), id: 0x100 + i)
        precondition(segment.count == packetLength)
        batch[i].put(segment, at: 16)
    }
    let coalescer = SegmentCoalescer()
    let merged = VirtioNetHeader.size + 52 + count * gso
    measureLoop("coalescing: `SegmentCoalescer`, \(count) × 1368 B TCP segments into one, per segment",
                bytesPerOp: packetLength, granularity: count) { n in
        var writes = 0, bytes = 0
        for _ in 0..<(n / count) {
            for s in batch { coalescer.add(s.baseAddress! + 16, length: packetLength) { writes &+= 1; bytes &+= $0.count } }
            coalescer.flush { writes &+= 1; bytes &+= $0.count }
        }
        if writes != n / count || bytes != writes * merged { fail("the segments did not merge into one super-packet per batch") }
    }
    let udpCount = 64
    let udp = slots(udpCount)
    for i in 0..<udpCount { udp[i].put(Packets.udp(payload: Packets.payload(packetLength - 28, seed: i), sourcePort: 40001 + i), at: 16) }
    // Not a per-byte cost: a packet that goes alone is only parsed and given its virtio header.
    measureLoop("coalescing: `SegmentCoalescer`, UDP passing through (batch of \(udpCount)), per packet",
                granularity: udpCount) { n in
        var writes = 0
        for _ in 0..<(n / udpCount) {
            for s in udp { coalescer.add(s.baseAddress! + 16, length: packetLength) { _ in writes &+= 1 } }
            coalescer.flush { _ in writes &+= 1 }
        }
        if writes != n { fail("UDP packets did not pass through one by one") }
    }
}

// MARK: - checksum

do {
    let buffer = slots(1)[0]
    buffer.put(innerPacket, at: 0)
    measureLoop("checksum: `InternetChecksum.sum` + fold, \(packetLength) B", bytesPerOp: packetLength) { n in
        var acc: UInt64 = 0
        for i in 0..<n { acc &+= UInt64(InternetChecksum.fold(InternetChecksum.sum(buffer.baseAddress!, count: packetLength, initial: UInt64(i)))) }
        keep(acc)
    }
}

// MARK: - Report

func ns(_ v: Double) -> String { v >= 100 ? String(format: "%.0f", v) : String(format: "%.1f", v) }

Swift.print("data-path-cost: median of \(rounds) rounds (~\(targetRoundNanoseconds / 1_000_000) ms each) after a warm-up; one thread; "
            + "\(ProcessInfo.processInfo.activeProcessorCount) CPUs")
Swift.print("")
Swift.print("| case | ns/op | per-byte rate | allocations/op | rounds min–max ns |")
Swift.print("|---|---|---|---|---|")
for r in rows {
    let rate = r.bytesPerOp > 0 ? String(format: "%.2f GB/s", Double(r.bytesPerOp) / r.nsPerOp) : "—"
    let allocs = r.allocations == 0 ? "0" : String(format: "%.4f", r.allocationsPerOp)
    Swift.print("| \(r.name) | \(ns(r.nsPerOp)) | \(rate) | \(allocs) | \(ns(r.minNs))–\(ns(r.maxNs)) |")
}
let allocating = rows.filter { $0.allocations > 0 }
if !allocating.isEmpty {
    Swift.print("")
    Swift.print("FAIL: the data path allocated: " + allocating.map { "\($0.name) (\($0.allocations) in the measured rounds)" }.joined(separator: "; "))
    exit(1)
}
