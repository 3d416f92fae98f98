import MeshBase
import MeshEngine
import MeshLocalAPI
import MeshStatus
import Netcheck
import Testing

@Suite struct NetcheckAnswerFromReportTests {
    let s1 = UDPAddress(ipv4: 203, 0, 113, 100, port: 3478)
    let s2 = UDPAddress(ipv4: 203, 0, 113, 100, port: 3479)
    let mapped = UDPAddress(ipv4: 198, 51, 100, 7, port: 41641)
    let relays = [NodeStatus.RelayStatus(id: "fra", url: "https://coord.lab.test", home: true, connected: true, latencyMs: 1)]

    @Test func anEasyNAT() {
        var report = NetcheckReport(udp: true, mapped: [s1: mapped, s2: mapped],
                                    latency: [s1: .microseconds(1234), s2: .milliseconds(2)])
        report.mappingVariesByDestination = false
        report.receivesFromUnsolicitedPort = false
        let a = NetcheckAnswer(report: report, relays: relays)
        #expect(a.udp && a.nat == .easy && a.filtering == .filtered)
        #expect(a.ipv4 == "198.51.100.7:41641" && a.ipv6 == nil)
        #expect(a.servers.map(\.server) == ["203.0.113.100:3478", "203.0.113.100:3479"])
        #expect(a.servers.first?.latencyMs == 1.23)
        #expect(a.preferredRelay == "fra" && a.relays.first?.latencyMs == 1)
    }

    @Test func aHardNATPublishesNoEndpoint() {
        var report = NetcheckReport(udp: true, mapped: [s1: mapped, s2: UDPAddress(ipv4: 198, 51, 100, 7, port: 50000)],
                                    latency: [:])
        report.mappingVariesByDestination = true
        let a = NetcheckAnswer(report: report, relays: [])
        #expect(a.nat == .hard && a.ipv4 == nil && a.preferredRelay == nil)
    }

    @Test func noProbeYet() {
        let a = NetcheckAnswer(report: nil, relays: relays)
        #expect(!a.udp && a.nat == .unknown && a.servers.isEmpty)
    }
}
