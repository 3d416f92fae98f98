// packet-filter-cost: what the receiving node's packet filter (issue 11) costs per packet, in
// nanoseconds and heap allocations, with 0 rules (a policy that allows nothing) and 100 rules
// (the packet matches the last one: a full scan on every new flow).
//
// Rows:
//   established   a reply on a connection this node opened (hash probe, LRU move)
//   peer flow     a segment of a connection the peer opened under the rules
//   allowed new   a SYN the rules allow, a new source port each time (a rule scan, a flow insert)
//   dropped       a SYN no rule allows (rule scan, counted; its RST is rate-limited away)
//   outbound      a packet read from the TUN, noted (opens or touches our flow)
// first on `PacketFilter` alone, then as the data plane uses it: `DataPlaneFilter` with its
// lock taken once per batch of 64 (what DataPlane does) and once per packet (for comparison),
// and the no-policy path (one atomic read; on the TUN side also the SYN test per packet and the
// record of each SYN).
//
//   swift build -c release --product packet-filter-cost && .build/release/packet-filter-cost [N]
//   .build/release/packet-filter-cost --planes [SECONDS]     (throughput through two data planes)
import CAllocationCounter
import Foundation
import Logging
import MeshBase
import MeshCrypto
import MeshIO
import MeshPolicy
import Synchronization
import WireGuard

let n = CommandLine.arguments.count > 1 ? max(1000, Int(CommandLine.arguments[1]) ?? 1_000_000) : 1_000_000

let me = IPAddress.v4(0x6440_0001)            // 100.64.0.1
let friend = IPAddress.v4(0x6440_0100 + 99)   // the 100th rule's source
let stranger = IPAddress.v4(0x6440_FF01)

func rules(_ count: Int) -> [FilterRule] {
    (0..<count).map { i in
        FilterRule(sources: AddressSet(addresses: [.v4(0x6440_0100 + UInt32(i))]), destinations: [me],
                   protocols: IPProtocolSet([6, 17]), ports: [PortRange(single: UInt16(5000 + i))])
    }
}

/// An IPv4 TCP segment (checksums are not the filter's business).
func tcp(_ from: IPAddress, _ to: IPAddress, _ sp: UInt16, _ dp: UInt16, flags: UInt8, payload: Int = 1200) -> [UInt8] {
    var p = [UInt8](repeating: 0, count: 40 + payload)
    p[0] = 0x45
    p[2] = UInt8((p.count >> 8) & 0xFF); p[3] = UInt8(p.count & 0xFF)
    p[8] = 64; p[9] = 6
    p.replaceSubrange(12..<16, with: from.networkBytes)
    p.replaceSubrange(16..<20, with: to.networkBytes)
    p[20] = UInt8(sp >> 8); p[21] = UInt8(sp & 0xFF); p[22] = UInt8(dp >> 8); p[23] = UInt8(dp & 0xFF)
    p[32] = 5 << 4
    p[33] = flags
    return p
}

let SYN: UInt8 = 0x02, ACK: UInt8 = 0x10

if CommandLine.arguments.contains("--planes") {
    let seconds = Double(CommandLine.arguments.last.flatMap(Int.init) ?? 3)
    Swift.print("two data planes on loopback, \(Int(seconds)) s per run, 1200-byte TCP segments A -> B on one connection")
    for round in 0..<2 {
        for withPolicy in [false, true] {
            let pps = try planesThroughput(withPolicy: withPolicy, seconds: seconds)
            let label = (withPolicy ? "100-rule policy" : "no policy").padding(toLength: 16, withPad: " ", startingAt: 0)
            Swift.print("  round \(round + 1)  " + label + String(format: "%9.0f packets/s  %7.1f Mbit/s", pps, pps * 1200 * 8 / 1e6))
        }
    }
    exit(0)
}

struct Row { var name: String; var ns: Double; var allocs: Double }

/// Runs `body(i)` for i in 0..<n once to warm up and once measured.
func measure(_ name: String, _ body: (Int) -> Void) -> Row {
    for i in 0..<min(n, 100_000) { body(i) }
    let a0 = mesh_allocations_this_thread()
    let t0 = DispatchTime.now().uptimeNanoseconds
    for i in 0..<n { body(i) }
    let t1 = DispatchTime.now().uptimeNanoseconds
    let a1 = mesh_allocations_this_thread()
    return Row(name: name, ns: Double(t1 - t0) / Double(n), allocs: Double(a1 - a0) / Double(n))
}

func print(_ rows: [Row], title: String) {
    Swift.print(title)
    for r in rows {
        Swift.print("  " + r.name.padding(toLength: 34, withPad: " ", startingAt: 0)
                    + String(format: "%8.1f ns/packet  %.4f allocations/packet", r.ns, r.allocs))
    }
}

let now = MonotonicTime(nanoseconds: 1_000_000_000)
for ruleCount in [0, 100] {
    var rows: [Row] = []
    var f = PacketFilter(configuration: .init(hashSeed: 0x1234_5678), rules: rules(ruleCount))
    // Our connection to the friend's port 443 and its replies.
    let ourSyn = tcp(me, friend, 40000, 443, flags: SYN)
    let reply = tcp(friend, me, 443, 40000, flags: ACK)
    ourSyn.withUnsafeBytes { f.outbound($0, now: now) }
    rows.append(reply.withUnsafeBytes { r in measure("established (reply to ours)") { _ in _ = f.inbound(r, now: now) } })
    if ruleCount > 0 {
        let peerSyn = tcp(friend, me, 41000, 5099, flags: SYN)
        let peerSegment = tcp(friend, me, 41000, 5099, flags: ACK)
        _ = peerSyn.withUnsafeBytes { f.inbound($0, now: now) }
        rows.append(peerSegment.withUnsafeBytes { r in measure("peer flow (opened under a rule)") { _ in _ = f.inbound(r, now: now) } })
        var fresh = tcp(friend, me, 0, 5099, flags: SYN)
        rows.append(fresh.withUnsafeMutableBytes { r in
            measure("allowed new (SYN, rule 100 of 100)") { i in
                r[20] = UInt8((i >> 8) & 0xFF); r[21] = UInt8(i & 0xFF)  // a new source port
                _ = f.inbound(UnsafeRawBufferPointer(r), now: now)
            }
        })
    }
    let refused = tcp(stranger, me, 42000, 5099, flags: SYN)
    rows.append(refused.withUnsafeBytes { r in measure("dropped (SYN, acl)") { _ in _ = f.inbound(r, now: now) } })
    let data = tcp(me, friend, 40000, 443, flags: ACK)
    rows.append(data.withUnsafeBytes { r in measure("outbound (noted)") { _ in f.outbound(r, now: now) } })
    print(rows, title: "PacketFilter alone, \(ruleCount) rules (\(n) packets per row, flows \(f.flowCount))")
}

// As the data plane shares it.
let shared = DataPlaneFilter(configuration: .init())
shared.install(rules(100))
let ourSyn = tcp(me, friend, 40000, 443, flags: SYN)
let reply = tcp(friend, me, 443, 40000, flags: ACK)
_ = ourSyn.withUnsafeBytes { s in shared.withFilter { $0.outbound(s, now: now); return true } }
var rows: [Row] = []
rows.append(reply.withUnsafeBytes { r in
    measure("established, lock per batch of 64") { i in
        guard i % 64 == 0 else { return }
        _ = shared.withFilter { f in
            for _ in 0..<64 { _ = f.inbound(r, now: now) }
            return true
        }
    }
})

rows.append(reply.withUnsafeBytes { r in
    measure("established, lock per packet") { _ in _ = shared.withFilter { $0.inbound(r, now: now) } }
})
let none = DataPlaneFilter()
rows.append(measure("no policy (isEnforcing only)") { _ in if none.isEnforcing { Swift.print("?") } })
// Without a policy the TUN thread tests every packet for a TCP connection start and records
// the SYNs (DataPlane's OutboundWorker): a data segment costs the test, a SYN a lock and a flow.
let ourData = tcp(me, friend, 40000, 443, flags: ACK)
rows.append(ourData.withUnsafeBytes { r in
    measure("no policy, TUN data (SYN test)") { _ in
        if !none.isEnforcing && OutboundConnectionStart.isTCPOpen(r) { Swift.print("?") }
    }
})
var freshSyn = tcp(me, friend, 0, 443, flags: SYN)
rows.append(freshSyn.withUnsafeMutableBytes { r in
    measure("no policy, TUN SYN (recorded)") { i in
        r[20] = UInt8((i >> 8) & 0xFF); r[21] = UInt8(i & 0xFF); r[22] = UInt8((i >> 16) & 0xFF)  // a new connection
        let p = UnsafeRawBufferPointer(r)
        if !none.isEnforcing && OutboundConnectionStart.isTCPOpen(p) { none.recordOutboundOpens { $0.outbound(p, now: now) } }
    }
})
print(rows, title: "DataPlaneFilter, 100 rules, one thread")

// --planes: throughput of two whole data planes on loopback (as Tests/MeshIOTests/DataPlaneTests
// runs them: socket pairs in place of TUN devices), B with no policy and with 100 rules (the
// flow allowed by the last one), alternating, SECONDS each: what reaches B's side per second. On a shared 2-core machine this measures the
// filter against everything else the path does (sealing, opening, four syscalls per packet).
// The packets are TCP segments of one connection B's rules allow (its SYN first).
func planesThroughput(withPolicy: Bool, seconds: Double) throws -> Double {
    var entropy = SystemEntropy()
    let keyA = PrivateKey.generate(using: &entropy), keyB = PrivateKey.generate(using: &entropy)
    let deviceA = Device(privateKey: keyA), deviceB = Device(privateKey: keyB)
    let udpA = try UDPTransport(port: 0), udpB = try UDPTransport(port: 0)
    let t = SystemClock.now()
    _ = try deviceA.addPeer(publicKey: keyB.publicKey, endpoint: UDPAddress(ipv4: 127, 0, 0, 1, port: udpB.port),
                            allowedIPs: [([100, 64, 0, 1], 32)], now: t)
    _ = try deviceB.addPeer(publicKey: keyA.publicKey, allowedIPs: [([100, 64, 1, 99], 32)], now: t)
    func pair() -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        _ = socketpair(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds)
        var size: Int32 = 4 << 20
        for fd in fds { _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, 4); _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, 4) }
        return (fds[0], fds[1])
    }
    let (tunA, hostA) = pair(), (tunB, hostB) = pair()
    defer { close(hostA); close(hostB); close(tunA); close(tunB) }
    var logger = Logger(label: "bench")
    logger.logLevel = .error
    let a = DataPlane(device: deviceA, tun: TunDevice(packetDescriptor: tunA, name: "bench-a"), udp: udpA, logger: logger)
    let b = DataPlane(device: deviceB, tun: TunDevice(packetDescriptor: tunB, name: "bench-b"), udp: udpB, logger: logger)
    if withPolicy {
        // 100 rules for B's address 100.64.0.1; the traffic matches the last one.
        b.filter.install(rules(100))
    }
    a.start(); b.start()
    defer { a.stop(); b.stop() }
    let packet = tcp(friend, me, 41000, 5099, flags: SYN, payload: 1160)
    var synAck = packet
    synAck[33] = ACK
    // The first segment opens the flow (and waits for the handshake).
    var buf = [UInt8](repeating: 0, count: 4096)
    var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
    _ = setsockopt(hostB, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var opened = false
    for _ in 0..<50 where !opened {
        _ = packet.withUnsafeBytes { send(hostA, $0.baseAddress, $0.count, 0) }
        opened = buf.withUnsafeMutableBytes { recv(hostB, $0.baseAddress, $0.count, 0) } > 0
    }
    guard opened else { throw BenchError.noHandshake }
    let received = Atomic<Int>(0), stop = Atomic<Bool>(false)
    let counter = Thread {
        var b = [UInt8](repeating: 0, count: 4096)
        while !stop.load(ordering: .relaxed) {
            if b.withUnsafeMutableBytes({ recv(hostB, $0.baseAddress, $0.count, 0) }) > 0 { received.add(1, ordering: .relaxed) }
        }
    }
    counter.start()
    let start = DispatchTime.now().uptimeNanoseconds
    let end = start + UInt64(seconds * 1e9)
    var now = start
    var c0 = 0
    var measuring = false
    let warm = start + 500_000_000
    while now < end {
        // Blocking sends: the socket pair's buffer paces the sender to what A's plane reads.
        _ = synAck.withUnsafeBytes { send(hostA, $0.baseAddress, $0.count, 0) }
        now = DispatchTime.now().uptimeNanoseconds
        if !measuring && now >= warm { measuring = true; c0 = received.load(ordering: .relaxed) }
    }
    let c1 = received.load(ordering: .relaxed)
    stop.store(true, ordering: .relaxed)
    Thread.sleep(forTimeInterval: 0.3)
    if withPolicy, let s = b.filter.snapshot, s.counters.acl + s.counters.noFlow > 0 { Swift.print("  (unexpected drops: \(s.counters))") }
    return Double(c1 - c0) / (Double(end - warm) / 1e9)
}

enum BenchError: Error { case noHandshake }
