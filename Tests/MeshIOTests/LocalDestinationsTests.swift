import MeshBase
import MeshIO
import MeshTestSupport
import WireGuard
import Testing

/// A peer's packet reaches the TUN only when it is addressed to this node: one for MagicDNS's
/// 100.100.100.100 (an address the host has on the TUN) or any other address is dropped and
/// counted, even from a peer whose allowed IPs the sender controls.
@Suite struct LocalDestinationsTests {
    @Test func admitsOnlyOwnAddresses() {
        let d = LocalDestinations()
        let toDNS = LoopbackPlanes.packet(to: [100, 100, 100, 100], sourcePort: 5000, destinationPort: 53)
        let toUs = LoopbackPlanes.packet(sourcePort: 5000, destinationPort: 53)
        let check = { (p: [UInt8]) in p.withUnsafeBytes { d.admits($0) } }
        #expect(check(toDNS) && check(toUs))  // unset: everything (standalone mode)
        d.set(ipv4: [10, 0, 0, 2], ipv6: (try! IPAddress("fd7a::2")).networkBytes)
        #expect(check(toUs))
        #expect(!check(toDNS))
        #expect(!check(Array(toUs.prefix(19))))
        var v6 = [UInt8](repeating: 0, count: 40)
        v6[0] = 0x60
        v6.replaceSubrange(24..<40, with: (try! IPAddress("fd7a::2")).networkBytes)
        #expect(check(v6))
        v6.replaceSubrange(24..<40, with: (try! IPAddress("fd7a:0:0:53::53")).networkBytes)
        #expect(!check(v6))
        // No IPv6 address: no IPv6 packet.
        d.set(ipv4: [10, 0, 0, 2], ipv6: nil)
        v6.replaceSubrange(24..<40, with: (try! IPAddress("fd7a::2")).networkBytes)
        #expect(!check(v6))
    }

    @Test func dataPlaneDropsAPeersPacketForAnotherAddress() async throws {
        let planes = try LoopbackPlanes()
        // A hostile a routes 100.100.100.100 to b; b's plane knows its own address.
        _ = try planes.a.device.addPeer(publicKey: planes.b.device.publicKey,
                                        allowedIPs: [([10, 0, 0, 2], 32), ([100, 100, 100, 100], 32)], now: SystemClock.now())
        planes.b.localDestinations.set(ipv4: [10, 0, 0, 2], ipv6: nil)
        planes.a.start()
        planes.b.start()
        defer { _ = planes.a.stop(); _ = planes.b.stop() }
        #expect(await planes.carries(LoopbackPlanes.packet(sourcePort: 5000, destinationPort: 53)))
        let toDNS = LoopbackPlanes.packet(to: [100, 100, 100, 100], sourcePort: 5000, destinationPort: 53)
        for _ in 0..<5 { planes.write(toDNS, to: planes.hostA) }
        #expect(await eventually(within: .seconds(5), pollingEvery: .milliseconds(10)) {
            planes.b.counters.notForThisNode.load(ordering: .relaxed) == 5
        })
        #expect(!planes.drain(planes.hostB).contains(toDNS))
        #expect(planes.b.counters.dropsByReason["notForThisNode"] == 5)
    }
}
