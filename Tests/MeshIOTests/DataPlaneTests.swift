#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import MeshBase
import MeshCrypto
import MeshIO
import MeshPolicy
import MeshTestSupport
import Testing
import WireGuard

/// A node's data plane driven in-process: two planes on loopback UDP, each with one end of a
/// datagram socket pair in place of its TUN interface, so the whole packet path (TUN read,
/// seal, sendmmsg, recvmmsg, open, TUN write) runs without root or a namespace.
final class LoopbackPlanes {
    let a: DataPlane
    let b: DataPlane
    /// The test's ends of the two socket pairs: what is written here, the plane reads as if
    /// from its TUN; what the plane writes to its TUN arrives here.
    let hostA: Int32
    let hostB: Int32

    init(cryptoThreads: Int = 1) throws {
        var entropy = SystemEntropy()
        let keyA = PrivateKey.generate(using: &entropy), keyB = PrivateKey.generate(using: &entropy)
        let deviceA = Device(privateKey: keyA), deviceB = Device(privateKey: keyB)
        let udpA = try UDPTransport(port: 0), udpB = try UDPTransport(port: 0)
        let now = SystemClock.now()
        _ = try deviceA.addPeer(publicKey: keyB.publicKey, endpoint: UDPAddress(ipv4: 127, 0, 0, 1, port: udpB.port),
                                allowedIPs: [([10, 0, 0, 2], 32)], now: now)
        _ = try deviceB.addPeer(publicKey: keyA.publicKey, allowedIPs: [([10, 0, 0, 1], 32)], now: now)
        let (tunA, hostA) = try Self.packetPair()
        let (tunB, hostB) = try Self.packetPair()
        self.hostA = hostA
        self.hostB = hostB
        var logger = Logger(label: "test.dataplane")
        logger.logLevel = .error
        a = DataPlane(device: deviceA, tun: TunDevice(packetDescriptor: tunA, name: "test-a"), udp: udpA, logger: logger,
                      cryptoThreads: cryptoThreads)
        b = DataPlane(device: deviceB, tun: TunDevice(packetDescriptor: tunB, name: "test-b"), udp: udpB, logger: logger,
                      cryptoThreads: cryptoThreads)
    }

    deinit { close(hostA); close(hostB) }

    static func packetPair() throws -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw SystemError("socketpair", code: -errno)
        }
        _ = fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK)
        // Room for bursts (the default send buffer holds about 150 datagrams of a kilobyte).
        var size: Int32 = 4 << 20
        for fd in fds {
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size))
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        return (fds[0], fds[1])
    }

    /// A minimal IPv4/UDP packet from the overlay address 10.0.0.1 to 10.0.0.2.
    static func packet(_ payload: String) -> [UInt8] {
        let body = Array(payload.utf8)
        var p = [UInt8](repeating: 0, count: 28)
        p[0] = 0x45
        let total = p.count + body.count
        p[2] = UInt8(total >> 8); p[3] = UInt8(total & 0xff)
        p[8] = 64; p[9] = 17
        p.replaceSubrange(12..<16, with: [10, 0, 0, 1])
        p.replaceSubrange(16..<20, with: [10, 0, 0, 2])
        let udpLength = 8 + body.count
        p[24] = UInt8(udpLength >> 8); p[25] = UInt8(udpLength & 0xff)
        return p + body
    }

    /// An IPv4 UDP (17) or TCP (6, `tcpFlags`) packet between overlay addresses, with ports.
    static func packet(from: [UInt8] = [10, 0, 0, 1], to: [UInt8] = [10, 0, 0, 2], proto: UInt8 = 17,
                       sourcePort: UInt16, destinationPort: UInt16, tcpFlags: UInt8 = 0x02, payload: String = "x") -> [UInt8] {
        let body = Array(payload.utf8)
        let transport = proto == 6 ? 20 : 8
        var p = [UInt8](repeating: 0, count: 20 + transport)
        p[0] = 0x45
        let total = p.count + body.count
        p[2] = UInt8(total >> 8); p[3] = UInt8(total & 0xff)
        p[8] = 64; p[9] = proto
        p.replaceSubrange(12..<16, with: from)
        p.replaceSubrange(16..<20, with: to)
        p[20] = UInt8(sourcePort >> 8); p[21] = UInt8(sourcePort & 0xff)
        p[22] = UInt8(destinationPort >> 8); p[23] = UInt8(destinationPort & 0xff)
        if proto == 6 {
            p[32] = 5 << 4
            p[33] = tcpFlags
        } else {
            let udpLength = 8 + body.count
            p[24] = UInt8(udpLength >> 8); p[25] = UInt8(udpLength & 0xff)
        }
        return p + body
    }

    func write(_ packet: [UInt8], to host: Int32) {
        _ = packet.withUnsafeBytes { send(host, $0.baseAddress, $0.count, 0) }
    }

    /// Everything waiting on `host`, one packet per element.
    func drain(_ host: Int32) -> [[UInt8]] {
        var got: [[UInt8]] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(host, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return got }
            got.append(Array(buf[0..<n]))
        }
    }

    /// Writes `packet` on A's side (again every half second: the first one may wait on the
    /// handshake) until B's side has received it or `timeout` passes.
    func carries(_ packet: [UInt8], within timeout: Duration = .seconds(10)) async -> Bool {
        var lastWrite = ContinuousClock.now - .seconds(1)
        return await eventually(within: timeout, pollingEvery: .milliseconds(10)) {
            if drain(hostB).contains(packet) { return true }
            if ContinuousClock.now - lastWrite >= .milliseconds(500) {
                write(packet, to: hostA)
                lastWrite = ContinuousClock.now
            }
            return false
        }
    }
}

@Suite struct DataPlaneTests {
    /// Bursts big enough to be sealed and opened on two threads arrive in order, and the split
    /// really happened on both sides. Each burst waits in A's TUN queue while A is stopped, so A
    /// finds it whole (batches of 32 and more) when it starts again.
    @Test func burstsSpreadOverTwoThreadsArriveInOrder() async throws {
        let planes = try LoopbackPlanes(cryptoThreads: 2)
        planes.a.start()
        planes.b.start()
        defer { planes.a.stop(); planes.b.stop() }
        #expect(await planes.carries(LoopbackPlanes.packet("warm-up")))
        var written = 0
        var received: [Int] = []
        for _ in 0..<4 {
            #expect(planes.a.stop(timeout: .seconds(3)))
            // Up to 400 at a time (the socket pair's queue holds about 500 datagrams).
            for _ in 0..<400 {
                let p = LoopbackPlanes.packet(from: [10, 0, 0, 1], to: [10, 0, 0, 2], sourcePort: 4000, destinationPort: 5000,
                                              payload: String(format: "%06d", written) + String(repeating: "p", count: 1000))
                guard p.withUnsafeBytes({ send(planes.hostA, $0.baseAddress, $0.count, 0) }) > 0 else { break }
                written += 1
            }
            planes.a.start()
            let target = written
            _ = await eventually(within: .seconds(10), pollingEvery: .milliseconds(1)) {
                for p in planes.drain(planes.hostB) where p.count > 34 {
                    if let n = Int(String(decoding: p[28..<34], as: UTF8.self)) { received.append(n) }
                }
                return received.last == target - 1
            }
        }
        #expect(written >= 1000)
        // Loopback UDP and the socket pairs may drop under a burst; what arrives must be in order.
        #expect(received.count >= written / 2, "received \(received.count) of \(written)")
        #expect(zip(received, received.dropFirst()).allSatisfy { $0 < $1 }, "out of order")
        #expect(planes.a.counters.parallelBatches.load(ordering: .relaxed) > 0)
        #expect(planes.b.counters.parallelBatches.load(ordering: .relaxed) > 0)
    }

    @Test func carriesPacketsStopsAndRestartsInProcess() async throws {
        let planes = try LoopbackPlanes()
        planes.a.start()
        planes.b.start()
        let first = LoopbackPlanes.packet("first")
        #expect(await planes.carries(first))
        #expect(planes.a.device.peers.first?.snapshot().lastHandshakeAt != nil)

        // Each thread notices the stop within its bounded wait (about a second).
        let stoppedAt = ContinuousClock.now
        #expect(planes.a.stop(timeout: .seconds(3)))
        #expect(planes.b.stop(timeout: .seconds(3)))
        #expect(ContinuousClock.now - stoppedAt < .seconds(3))

        // Stopped means stopped: nothing is read from A's side or reaches B's.
        let whileStopped = LoopbackPlanes.packet("while stopped")
        planes.write(whileStopped, to: planes.hostA)
        try await Task.sleep(for: .milliseconds(300))
        #expect(planes.drain(planes.hostB).isEmpty)

        // The same device, TUN and socket start again and carry traffic on the same session,
        // including the packet that waited in A's TUN queue.
        planes.a.start()
        planes.b.start()
        #expect(await eventually(within: .seconds(5)) { planes.drain(planes.hostB).contains(whileStopped) })
        #expect(await planes.carries(LoopbackPlanes.packet("second")))
        #expect(planes.a.stop())
        #expect(planes.b.stop())
    }

    @Test func stopBeforeStartAndTwiceIsHarmless() throws {
        let planes = try LoopbackPlanes()
        #expect(planes.a.stop())
        planes.a.start()
        #expect(planes.a.stop())
        #expect(planes.a.stop())
    }

    /// A rule set on B: 10.0.0.1 may reach 10.0.0.2 on UDP and TCP `port`.
    static func rules(port: UInt16) -> [FilterRule] {
        [FilterRule(sourcePrefixes: [IPPrefix(host: .v4(0x0A00_0001))], destinations: [.v4(0x0A00_0002)],
                    protocols: [6, 17], ports: [PortRange(single: port)])]
    }

    /// B enforces a policy: allowed packets pass; refused ones are counted by reason and
    /// answered at once through the tunnel (ICMP prohibited for UDP, RST for a SYN); replies to
    /// B's own flows pass; a policy change cuts the flow it no longer allows.
    @Test func aPolicyAtTheReceiverDropsCountsAndAnswers() async throws {
        let planes = try LoopbackPlanes()
        planes.b.filter.install(Self.rules(port: 53))
        planes.a.start()
        planes.b.start()
        defer { planes.a.stop(); planes.b.stop() }
        let allowed = LoopbackPlanes.packet(sourcePort: 40000, destinationPort: 53, payload: "allowed")
        #expect(await planes.carries(allowed))

        // A refused datagram: dropped, counted as acl, answered with ICMP prohibited (3/13).
        _ = planes.drain(planes.hostA)
        planes.write(LoopbackPlanes.packet(sourcePort: 40000, destinationPort: 54, payload: "refused"), to: planes.hostA)
        var answers: [[UInt8]] = []
        #expect(await eventually(within: .seconds(5)) {
            answers += planes.drain(planes.hostA)
            return answers.contains { $0.count >= 22 && $0[9] == 1 && $0[20] == 3 && $0[21] == 13 }
        })
        #expect(planes.b.counters.filteredCount(.acl) == 1)
        #expect(planes.b.counters.dropsByReason["acl"] == 1)
        #expect(planes.b.counters.filterRejectsSent.load(ordering: .relaxed) == 1)
        #expect(planes.drain(planes.hostB).isEmpty)

        // A refused SYN is answered with a RST from 10.0.0.2:5432.
        planes.write(LoopbackPlanes.packet(proto: 6, sourcePort: 41000, destinationPort: 5432, tcpFlags: 0x02, payload: ""), to: planes.hostA)
        answers = []
        #expect(await eventually(within: .seconds(5)) {
            answers += planes.drain(planes.hostA)
            return answers.contains { $0.count >= 40 && $0[9] == 6 && $0[33] & 0x04 != 0 && $0[20] == 0x15 && $0[21] == 0x38 }
        })
        #expect(planes.b.counters.filteredCount(.acl) == 2)

        // B's own datagram to A's port 8000 opens a flow: A's reply to it passes although no
        // rule allows port 7000 at B.
        let fromB = LoopbackPlanes.packet(from: [10, 0, 0, 2], to: [10, 0, 0, 1], sourcePort: 7000, destinationPort: 8000, payload: "ours")
        planes.write(fromB, to: planes.hostB)
        #expect(await eventually(within: .seconds(5)) { planes.drain(planes.hostA).contains(fromB) })
        let reply = LoopbackPlanes.packet(sourcePort: 8000, destinationPort: 7000, payload: "reply")
        planes.write(reply, to: planes.hostA)
        #expect(await eventually(within: .seconds(5)) { planes.drain(planes.hostB).contains(reply) })

        // The policy moves to port 54: A's established flow to port 53 is cut, port 54 opens.
        planes.b.filter.install(Self.rules(port: 54))
        #expect(planes.b.filter.snapshot?.counters.flowsCut == 1)
        planes.write(LoopbackPlanes.packet(sourcePort: 40000, destinationPort: 53, payload: "after"), to: planes.hostA)
        #expect(await eventually(within: .seconds(5)) { planes.b.counters.filteredCount(.flowCut) == 1 })
        let now54 = LoopbackPlanes.packet(sourcePort: 40000, destinationPort: 54, payload: "now allowed")
        planes.write(now54, to: planes.hostA)
        #expect(await eventually(within: .seconds(5)) { planes.drain(planes.hostB).contains(now54) })

        // No policy: everything passes again, nothing is judged.
        planes.b.filter.install(nil)
        #expect(planes.b.filter.snapshot == nil)
        let any = LoopbackPlanes.packet(sourcePort: 40000, destinationPort: 999, payload: "any")
        #expect(await planes.carries(any))
    }

    /// Without a policy B records only the TCP connections it opens (their SYNs), so when the
    /// first policy arrives the replies to those pass, and a connection B only answered (no SYN
    /// of B's) is judged by the new rules.
    @Test func theFirstPolicyKeepsConnectionsOpenedBeforeIt() async throws {
        let planes = try LoopbackPlanes()
        planes.a.start()
        planes.b.start()
        defer { planes.a.stop(); planes.b.stop() }
        #expect(await planes.carries(LoopbackPlanes.packet("handshake")))
        let synFromB = LoopbackPlanes.packet(from: [10, 0, 0, 2], to: [10, 0, 0, 1], proto: 6, sourcePort: 7000, destinationPort: 8000,
                                             tcpFlags: 0x02, payload: "")
        let ackFromB = LoopbackPlanes.packet(from: [10, 0, 0, 2], to: [10, 0, 0, 1], proto: 6, sourcePort: 7001, destinationPort: 8001,
                                             tcpFlags: 0x10, payload: "answer")
        planes.write(synFromB, to: planes.hostB)
        planes.write(ackFromB, to: planes.hostB)
        var atA: [[UInt8]] = []
        #expect(await eventually(within: .seconds(5)) {
            atA += planes.drain(planes.hostA)
            return atA.contains(synFromB) && atA.contains(ackFromB)
        })
        #expect(planes.b.filter.snapshot == nil)
        planes.b.filter.install(Self.rules(port: 53))
        #expect(planes.b.filter.snapshot?.flows == 1)
        let reply = LoopbackPlanes.packet(proto: 6, sourcePort: 8000, destinationPort: 7000, tcpFlags: 0x10, payload: "reply")
        planes.write(reply, to: planes.hostA)
        #expect(await eventually(within: .seconds(5)) { planes.drain(planes.hostB).contains(reply) })
        let other = LoopbackPlanes.packet(proto: 6, sourcePort: 8001, destinationPort: 7001, tcpFlags: 0x10, payload: "other")
        planes.write(other, to: planes.hostA)
        #expect(await eventually(within: .seconds(5)) { planes.b.counters.filteredCount(.noFlow) == 1 })
        #expect(planes.drain(planes.hostB).isEmpty)
    }

    /// A packet to an overlay address no peer has is answered at once, into the TUN, with
    /// ICMP host unreachable from that address; one outside the overlay is only dropped.
    @Test func anUnroutableOverlayDestinationIsAnsweredIntoTheTUN() async throws {
        let planes = try LoopbackPlanes()
        planes.a.setOverlayPrefixes([try IPPrefix("10.0.0.0/24")])
        planes.a.start()
        defer { planes.a.stop() }
        let syn = LoopbackPlanes.packet(to: [10, 0, 0, 9], proto: 6, sourcePort: 40000, destinationPort: 5432, tcpFlags: 0x02, payload: "")
        planes.write(syn, to: planes.hostA)
        var answers: [[UInt8]] = []
        #expect(await eventually(within: .seconds(5)) {
            answers += planes.drain(planes.hostA)
            return !answers.isEmpty
        })
        let answer = try #require(answers.first)
        // IPv4, ICMP, from 10.0.0.9 to 10.0.0.1, type 3 code 1, quoting the SYN's first 28 bytes.
        #expect(answer.count == 56 && answer[9] == 1 && Array(answer[12..<20]) == [10, 0, 0, 9, 10, 0, 0, 1])
        #expect(answer[20] == 3 && answer[21] == 1 && Array(answer[28...]) == Array(syn[0..<28]))
        #expect(planes.a.counters.dropped(.noRoute) == 1 && planes.a.counters.noRouteAnswers.load(ordering: .relaxed) == 1)
        planes.write(LoopbackPlanes.packet(to: [192, 0, 2, 1], proto: 6, sourcePort: 40000, destinationPort: 80, tcpFlags: 0x02, payload: ""),
                     to: planes.hostA)
        #expect(await eventually(within: .seconds(5)) { planes.a.counters.dropped(.noRoute) == 2 })
        try await Task.sleep(for: .milliseconds(100))
        #expect(planes.drain(planes.hostA).isEmpty && planes.a.counters.noRouteAnswers.load(ordering: .relaxed) == 1)
    }

    /// A datagram that came through a relay is judged like one from the socket.
    @Test func relayedPacketsPassTheFilterToo() async throws {
        let planes = try LoopbackPlanes()
        planes.b.filter.install(Self.rules(port: 53))
        planes.a.start()
        planes.b.start()
        defer { planes.a.stop(); planes.b.stop() }
        #expect(await planes.carries(LoopbackPlanes.packet(sourcePort: 40000, destinationPort: 53, payload: "handshake")))
        // Sealed by A's device as the data plane would, then handed to B as the relay does.
        func relay(_ packet: [UInt8]) throws {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 64)
            defer { buffer.deallocate() }
            packet.withUnsafeBytes { buffer.baseAddress!.advanced(by: 16).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            let peer = try #require(planes.a.device.peers.first)
            guard case .send(let length, _) = planes.a.device.encapsulate(peer: peer, buffer: buffer, packetLength: packet.count,
                                                                          now: SystemClock.now()) else {
                Issue.record("no session to seal with"); return
            }
            planes.b.receiveFromRelay(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length]))
        }
        let allowed = LoopbackPlanes.packet(sourcePort: 40001, destinationPort: 53, payload: "relayed allowed")
        try relay(allowed)
        #expect(await eventually(within: .seconds(5)) { planes.drain(planes.hostB).contains(allowed) })
        try relay(LoopbackPlanes.packet(sourcePort: 40001, destinationPort: 55, payload: "relayed refused"))
        #expect(planes.b.counters.filteredCount(.acl) == 1)
        try await Task.sleep(for: .milliseconds(100))
        #expect(planes.drain(planes.hostB).isEmpty)
    }
}
