#if canImport(Glibc)
import Glibc
#endif
import Logging
import MeshCrypto
import MeshIO
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

    init() throws {
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
        a = DataPlane(device: deviceA, tun: TunDevice(packetDescriptor: tunA, name: "test-a"), udp: udpA, logger: logger)
        b = DataPlane(device: deviceB, tun: TunDevice(packetDescriptor: tunB, name: "test-b"), udp: udpB, logger: logger)
    }

    deinit { close(hostA); close(hostB) }

    static func packetPair() throws -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw SystemError("socketpair", code: -errno)
        }
        _ = fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK)
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
}
