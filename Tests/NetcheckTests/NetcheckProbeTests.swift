import MeshCrypto
import MeshWire
import Netcheck
import Testing
import MeshBase

@Suite struct NetcheckProbeTests {
    let s1 = UDPAddress(ipv4: 203, 0, 113, 100, port: 3478)
    let s2 = UDPAddress(ipv4: 203, 0, 113, 100, port: 3479)
    let t0 = MonotonicTime(nanoseconds: 5_000_000_000)

    /// Plays a STUN server: answers a request as if the node were seen at `mapped`.
    func answer(_ request: [UInt8], mapped: UDPAddress) -> [UInt8] {
        let m = try! STUNMessage.decode(request)
        return STUNMessage.bindingSuccess(transactionID: m.transactionID,
                                          mapped: STUNAddress(ip: mapped.addressBytes, port: mapped.port)!).encode()
    }

    @Test func easyNATReportsOneEndpointAndFiltering() {
        var e = SeededEntropy(seed: 1)
        var probe = NetcheckProbe(stunServers: [s1, s2], now: t0, entropy: &e)
        let sent = probe.poll(now: t0)
        #expect(sent.count == 3)  // two plain requests and one change-port request
        let me = UDPAddress(ipv4: 203, 0, 113, 11, port: 41641)
        for (bytes, to) in sent {
            let isChange = (try? STUNMessage.decode(bytes))?.changeRequest?.changePort == true
            // The change-port answer comes from the other port.
            probe.receive(answer(bytes, mapped: me), from: isChange ? s2 : to, now: t0 + .milliseconds(3))
        }
        #expect(probe.isDone(now: t0 + .milliseconds(3)))
        let r = probe.result
        #expect(r.udp && r.publicEndpoints == [me] && r.mappingVariesByDestination == false)
        #expect(r.receivesFromUnsolicitedPort == true)
        #expect(r.latency[s1] == .milliseconds(3))
    }

    @Test func hardNATIsDetected() {
        var e = SeededEntropy(seed: 2)
        var probe = NetcheckProbe(stunServers: [s1, s2], now: t0, testFiltering: false, entropy: &e)
        for (i, (bytes, to)) in probe.poll(now: t0).enumerated() {
            probe.receive(answer(bytes, mapped: UDPAddress(ipv4: 203, 0, 113, 11, port: UInt16(20000 + i))), from: to, now: t0)
        }
        #expect(probe.result.mappingVariesByDestination == true)
        #expect(probe.result.publicEndpoints.isEmpty)
    }

    /// A dual-stack node probes the servers in both families: one public endpoint per family
    /// (IPv4 first), and the families' different addresses are not a "hard NAT".
    @Test func dualStackGivesOneEndpointPerFamily() {
        let v6a = UDPAddress(addressBytes: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [0x01], port: 3478)!
        let v6b = UDPAddress(addressBytes: v6a.addressBytes, port: 3479)!
        var e = SeededEntropy(seed: 4)
        var probe = NetcheckProbe(stunServers: [s1, s2, v6a, v6b], now: t0, testFiltering: false, entropy: &e)
        let me4 = UDPAddress(ipv4: 203, 0, 113, 11, port: 41641)
        let me6 = UDPAddress(addressBytes: [0x20, 0x01, 0x0d, 0xb8, 0, 1] + [UInt8](repeating: 0, count: 9) + [0x10], port: 41641)!
        for (bytes, to) in probe.poll(now: t0) {
            probe.receive(answer(bytes, mapped: to.isIPv4 ? me4 : me6), from: to, now: t0 + .milliseconds(2))
        }
        #expect(probe.isDone(now: t0 + .milliseconds(2)))
        #expect(probe.result.publicEndpoints == [me4, me6])
        #expect(probe.result.mappingVariesByDestination == false)
        #expect(probe.result.latency[v6b] == .milliseconds(2))
    }

    /// A hard IPv4 NAT still shows as one, and still leaves the IPv6 endpoint to publish.
    @Test func hardIPv4NATBesideIPv6() {
        let v6 = UDPAddress(addressBytes: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [0x01], port: 3478)!
        let me6 = UDPAddress(addressBytes: [0x20, 0x01, 0x0d, 0xb8, 0, 2] + [UInt8](repeating: 0, count: 9) + [0x10], port: 41641)!
        let report = NetcheckReport(udp: true, mapped: [s1: UDPAddress(ipv4: 203, 0, 113, 12, port: 1000),
                                                        s2: UDPAddress(ipv4: 203, 0, 113, 12, port: 2000), v6: me6],
                                    latency: [:])
        #expect(report.publicEndpoints == [me6])
        #expect(NetcheckReport.mappingVaries(report.mapped) == true)
        #expect(NetcheckReport.mappingVaries([v6: me6]) == nil)
    }

    @Test func retransmitsWithBackoffAndGivesUp() {
        var e = SeededEntropy(seed: 3)
        var probe = NetcheckProbe(stunServers: [s1], now: t0, timeout: .seconds(1), testFiltering: false, entropy: &e)
        var sendTimes: [Int64] = []
        var now = t0
        while !probe.isDone(now: now) {
            if !probe.poll(now: now).isEmpty { sendTimes.append((now - t0).nanoseconds / 1_000_000) }
            now = now + .milliseconds(10)
        }
        #expect(sendTimes == [0, 100, 300, 700])
        #expect(!probe.result.udp && probe.result.mapped.isEmpty)
    }

    @Test func foreignOrBrokenAnswersAreIgnored() {
        var e = SeededEntropy(seed: 4)
        var probe = NetcheckProbe(stunServers: [s1], now: t0, testFiltering: false, entropy: &e)
        _ = probe.poll(now: t0)
        let stranger = STUNMessage.bindingSuccess(transactionID: STUNTransactionID([UInt8](repeating: 1, count: 12))!,
                                                  mapped: STUNAddress(ip: [1, 2, 3, 4], port: 5)!).encode()
        let accepted = probe.receive(stranger, from: s1, now: t0)
        let garbage = probe.receive([0, 1, 2, 3], from: s1, now: t0)
        #expect(!accepted && !garbage && !probe.result.udp)
    }
}
