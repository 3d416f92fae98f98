import MeshBase
import MeshEngine
import Netcheck
import Testing

@Suite struct ProbeOutcomeTests {
    let fraA = UDPAddress(ipv4: 198, 51, 100, 1, port: 3478)
    let fraB = UDPAddress(ipv4: 198, 51, 100, 1, port: 3479)
    let nyc = UDPAddress(ipv4: 198, 51, 100, 2, port: 3478)
    let stranger = UDPAddress(ipv4: 198, 51, 100, 9, port: 3478)
    let mapped = UDPAddress(ipv4: 203, 0, 113, 7, port: 41641)

    @Test func eachRelayGetsItsBestServerAndStrangersCountForNone() {
        let report = NetcheckReport(udp: true, mapped: [fraA: mapped, fraB: mapped],
                                    latency: [fraA: .milliseconds(30), fraB: .milliseconds(12), stranger: .milliseconds(1)])
        let outcome = ProbeOutcome(report: report, relayOfServer: [fraA: "fra", fraB: "fra", nyc: "nyc"],
                                   localEndpoints: ["10.1.0.10:41641"])
        #expect(outcome.relayLatencyMillis == ["fra": 12])
        // nyc did not answer: its name is resolved again.
        #expect(outcome.anyUnanswered)
        #expect(outcome.endpoints == ["203.0.113.7:41641", "10.1.0.10:41641"])
    }

    @Test func allAnsweredAndNoPublicEndpointWhenServersDisagree() {
        let other = UDPAddress(ipv4: 203, 0, 113, 7, port: 50000)
        let report = NetcheckReport(udp: true, mapped: [fraA: mapped, nyc: other],
                                    latency: [fraA: .milliseconds(5), nyc: .seconds(1) + .milliseconds(250)])
        let outcome = ProbeOutcome(report: report, relayOfServer: [fraA: "fra", nyc: "nyc"], localEndpoints: ["10.1.0.10:41641"])
        #expect(outcome.relayLatencyMillis == ["fra": 5, "nyc": 1250])
        #expect(!outcome.anyUnanswered)
        // A NAT that maps per destination has no one public endpoint to publish.
        #expect(outcome.endpoints == ["10.1.0.10:41641"])
    }

    @Test func publishableListsEachEndpointOnce() {
        #expect(ProbeOutcome.publishable(local: ["203.0.113.7:41641", "10.1.0.10:41641"], public: [mapped])
                == ["203.0.113.7:41641", "10.1.0.10:41641"])
        #expect(ProbeOutcome.publishable(local: [], public: []) == [])
    }

    /// A dual-stack node: both public endpoints first (IPv4, then IPv6), then the LAN ones;
    /// its global IPv6 address is both local and public (no NAT66) and listed once.
    @Test func dualStackPublishesBothFamilies() {
        let v6Server = UDPAddress(addressBytes: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1], port: 3478)!
        let mapped6 = UDPAddress(addressBytes: [0x20, 0x01, 0x0d, 0xb8, 0, 1] + [UInt8](repeating: 0, count: 9) + [0x10], port: 41641)!
        let report = NetcheckReport(udp: true, mapped: [fraA: mapped, fraB: mapped, v6Server: mapped6],
                                    latency: [fraA: .milliseconds(9), v6Server: .milliseconds(7)])
        let outcome = ProbeOutcome(report: report, relayOfServer: [fraA: "fra", fraB: "fra", v6Server: "fra"],
                                   localEndpoints: ["10.1.0.10:41641", "[2001:db8:1::10]:41641"])
        #expect(outcome.endpoints == ["203.0.113.7:41641", "[2001:db8:1::10]:41641", "10.1.0.10:41641"])
        #expect(outcome.relayLatencyMillis == ["fra": 7])
    }
}
