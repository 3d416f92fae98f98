import MeshLocalAPI
import Testing

@Suite struct NetcheckAnswerTests {
    func answer(varies: Bool?, open: Bool?) -> NetcheckAnswer {
        NetcheckAnswer(udp: true, ipv4: varies == true ? nil : "198.51.100.7:41641", ipv6: nil,
                       mappingVariesByDestination: varies, receivesFromUnsolicitedPort: open,
                       servers: [.init(server: "203.0.113.100:3478", relay: "fra", mapped: "198.51.100.7:41641", latencyMs: 1.25),
                                 .init(server: "203.0.113.100:3479", relay: nil, mapped: nil, latencyMs: nil)],
                       relays: [.init(id: "fra", latencyMs: 1, connected: true, home: true)],
                       preferredRelay: "fra")
    }

    @Test func theNATVerdictFollowsTheMappings() {
        #expect(answer(varies: false, open: nil).nat == .easy)
        #expect(answer(varies: true, open: nil).nat == .hard)
        #expect(answer(varies: nil, open: nil).nat == .unknown)
        #expect(answer(varies: false, open: true).filtering == .open)
        #expect(answer(varies: false, open: false).filtering == .filtered)
        #expect(answer(varies: false, open: nil).filtering == nil)
    }

    @Test func theReportReadsAsLines() {
        let lines = answer(varies: false, open: false).lines
        #expect(lines.contains("UDP: yes"))
        #expect(lines.contains("IPv4: 198.51.100.7:41641"))
        #expect(lines.contains("IPv6: none"))
        #expect(lines.contains { $0.hasPrefix("NAT: easy") })
        #expect(lines.contains("STUN 203.0.113.100:3478 (fra): 1.3 ms, sees us as 198.51.100.7:41641"))
        #expect(lines.contains("STUN 203.0.113.100:3479: no answer"))
        #expect(lines.contains("relay fra: 1 ms, connected, home"))
        #expect(lines.last == "preferred relay: fra")
        #expect(answer(varies: true, open: nil).lines.contains("IPv4: varies by destination"))
    }
}
