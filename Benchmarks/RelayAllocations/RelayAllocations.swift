// relay-allocations: heap allocations per relayed packet on a node, in each direction.
//
// Two nodes, A and B, each with the mesh-mode relay path as meshd builds it (MagicSock →
// RelayPool → RelayClient on the way out; RelayClient → RelayPool → MagicSock on the way in),
// and a relay server in the same process, each on its own event-loop thread. A sends N
// datagrams to B through the relay. The allocator is replaced by a counting one
// (Benchmarks/CAllocationCounter), counted per thread:
//   send:    the thread that calls MagicSock.sendViaRelay (the data plane's thread in meshd)
//            plus A's event-loop thread (which writes the batches to the socket);
//   receive: B's event-loop thread (socket read, frame decoding, delivery to the data plane).
// The relay server's thread is not counted: it is not the node.
//
//   swift run -c release relay-allocations [N] [BYTES]      (default 100000 packets of 1200 bytes)
import CAllocationCounter
import Foundation
import MagicSock
import MeshCrypto
import MeshIO
import MeshWire
import NIOCore
import NIOPosix
import Relay
import RelayIO
import Synchronization
import WireGuard

let count = CommandLine.arguments.count > 1 ? max(1, Int(CommandLine.arguments[1]) ?? 100_000) : 100_000
let size = CommandLine.arguments.count > 2 ? min(max(16, Int(CommandLine.arguments[2]) ?? 1200), 60_000) : 1200

func key(_ seed: UInt64) -> PrivateKey {
    var e = SeededEntropy(seed: seed)
    return PrivateKey.generate(using: &e)
}

func allocations(on loop: EventLoop) -> UInt64 {
    (try? loop.submit { mesh_allocations_this_thread() }.wait()) ?? 0
}

final class Node: Sendable {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let nodeKey: PrivateKey
    let magic: MagicSock
    let pool: RelayPool
    let device: Device
    let received = Counter()

    final class Counter: Sendable {
        let value = Atomic<Int>(0)
        func add(_ n: Int) { value.add(n, ordering: .relaxed) }
        var count: Int { value.load(ordering: .relaxed) }
    }

    init(nodeKey: PrivateKey, discoKey: PrivateKey) {
        self.nodeKey = nodeKey
        device = Device(privateKey: nodeKey)
        let box = MagicBox()
        let received = self.received
        pool = RelayPool(nodeKey: nodeKey, group: group, logger: .init(label: "bench"),
                         onPacket: { source, packet in
                             // What meshd does before decrypting in place: ask MagicSock.
                             guard box.magic?.receiveFromRelay(UnsafeRawBufferPointer(packet), from: source,
                                                               now: SystemClock.now()) == true else { return }
                             packet[0] ^= 1  // the data plane works on the bytes where they are
                             received.add(1)
                         },
                         onHomeChanged: { _ in })
        let pool = self.pool
        magic = MagicSock(discoKey: discoKey, nodeKey: nodeKey.publicKey, sendUDP: { _, _ in },
                          sendRelayDatagram: { pool.send(to: $0, datagram: $1) }, relayUp: { true })
        box.magic = magic
    }

    final class MagicBox: @unchecked Sendable { var magic: MagicSock? }  // set once, before traffic
}

@main
struct RelayAllocations {
    static func main() async throws {
        _ = Sodium.isReady
        if CommandLine.arguments.contains("--parts") { parts(); return }
        let serverGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (ka, kb, da, db) = (key(1), key(2), key(3), key(4))
        let service = RelayService(privateKey: key(9), authorize: { _ in true })
        let server = try await RelayServer.start(host: "127.0.0.1", port: 0, service: service, group: serverGroup)
        let relays = [RelayInfo(id: "bench", url: "http://127.0.0.1:\(server.port)/relay", key: key(9).publicKey.base64)]
        let a = Node(nodeKey: ka, discoKey: da), b = Node(nodeKey: kb, discoKey: db)
        let now = SystemClock.now()
        let peerOfA = try a.device.addPeer(publicKey: kb.publicKey, now: now)
        let peerOfB = try b.device.addPeer(publicKey: ka.publicKey, now: now)
        a.magic.setPeers([.init(nodeKey: kb.publicKey, discoKey: db.publicKey, endpoints: [], wireGuardPeer: peerOfA)])
        b.magic.setPeers([.init(nodeKey: ka.publicKey, discoKey: da.publicKey, endpoints: [], wireGuardPeer: peerOfB)])
        a.pool.configure(relays)
        b.pool.configure(relays)
        let deadline = Date().addingTimeInterval(10)
        while !(a.pool.isAnyConnected && b.pool.isAnyConnected) {
            guard Date() < deadline else { print("relay-allocations: the nodes did not connect"); exit(1) }
            try await Task.sleep(for: .milliseconds(5))
        }
        // A WireGuard transport message as the data plane would hand it over (type 4 header).
        let datagram = [4, 0, 0, 0] + [UInt8](repeating: 0xab, count: size - 4)

        let sender = Thread {
            func run(_ n: Int) -> (sent: Int, drops: Int) {
                var sent = 0, drops = 0
                let target = b.received.count + n
                datagram.withUnsafeBytes { d in
                    while sent < n {
                        if a.magic.sendViaRelay(d, to: peerOfA) { sent += 1 } else { drops += 1; usleep(200) }
                    }
                }
                while b.received.count < target { usleep(100) }
                return (sent, drops)
            }
            _ = run(10_000)  // warm-up: buffers, caches, connection state
            let s0 = mesh_allocations_this_thread()
            let a0 = allocations(on: a.group.next()), b0 = allocations(on: b.group.next())
            let t0 = Date()
            let (sent, drops) = run(count)
            let t1 = Date()
            let s1 = mesh_allocations_this_thread()
            let a1 = allocations(on: a.group.next()), b1 = allocations(on: b.group.next())
            let sendAllocs = (s1 - s0) + (a1 - a0), recvAllocs = b1 - b0
            print("relay-allocations: \(sent) packets of \(size) bytes A -> relay -> B in \(String(format: "%.2f", t1.timeIntervalSince(t0))) s (\(drops) sends refused while the socket was backed up, retried)")
            print("| direction | threads counted | allocations | per packet |")
            print("|---|---|---:|---:|")
            print("| send | sender (MagicSock.sendViaRelay) | \(s1 - s0) | \(String(format: "%.4f", Double(s1 - s0) / Double(sent))) |")
            print("| send | A's event loop (batch writes) | \(a1 - a0) | \(String(format: "%.4f", Double(a1 - a0) / Double(sent))) |")
            print("| send | total | \(sendAllocs) | \(String(format: "%.4f", Double(sendAllocs) / Double(sent))) |")
            print("| receive | B's event loop (read, decode, deliver) | \(recvAllocs) | \(String(format: "%.4f", Double(recvAllocs) / Double(sent))) |")
            exit(sendAllocs <= UInt64(sent) && recvAllocs <= UInt64(sent) ? 0 : 3)
        }
        sender.start()
        while true { try await Task.sleep(for: .seconds(60)) }
    }
}

/// Allocations of each step of the receive path on its own, 1000 runs each (diagnosis).
func parts() {
    let n = 1000
    let k = key(1).publicKey
    let frame = RelayFrame.recvPacket(source: k, packet: [4, 0, 0, 0] + [UInt8](repeating: 1, count: 1196)).encoded
    var decoder = RelayFrameDecoder()
    var got = 0
    var c0 = mesh_allocations_this_thread()
    for _ in 0..<n {
        frame.withUnsafeBytes { decoder.append($0) }
        _ = try? decoder.next(deliveringPackets: { _, p in got &+= Int(p[0]) })
    }
    print("decoder append + deliver: \(Double(mesh_allocations_this_thread() - c0) / Double(n)) per packet")
    let magic = MagicSock(discoKey: key(3), nodeKey: key(2).publicKey, sendUDP: { _, _ in },
                          sendRelayDatagram: { _, _ in true }, relayUp: { true })
    c0 = mesh_allocations_this_thread()
    frame.withUnsafeBytes { raw in
        for _ in 0..<n { _ = magic.receiveFromRelay(UnsafeRawBufferPointer(rebasing: raw[37...]), from: k, now: SystemClock.now()) }
    }
    print("MagicSock.receiveFromRelay: \(Double(mesh_allocations_this_thread() - c0) / Double(n)) per packet")
    var buf = ByteBufferAllocator().buffer(capacity: 2048)
    buf.writeBytes(frame)
    c0 = mesh_allocations_this_thread()
    for _ in 0..<n { buf.withUnsafeReadableBytes { decoder.append($0) }; _ = try? decoder.next(deliveringPackets: { _, _ in }) }
    print("decoder append(ByteBuffer bytes): \(Double(mesh_allocations_this_thread() - c0) / Double(n)) per packet")
}

