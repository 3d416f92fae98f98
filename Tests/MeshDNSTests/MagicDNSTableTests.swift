import MeshBase
import MeshDNS
import Testing

@Suite struct MagicDNSTableTests {
    @Test func firstEntryWinsAndBadLabelsAreLeftOut() throws {
        let t = MagicDNSTable(domain: "Mesh.", entries: [
            .init(name: "Self", ipv4: try IPAddress("100.64.0.1"), ipv6: nil),
            .init(name: "self", ipv4: try IPAddress("100.64.0.5"), ipv6: nil),
            .init(name: "has.dot", ipv4: try IPAddress("100.64.0.6"), ipv6: nil),
            .init(name: "-x", ipv4: try IPAddress("100.64.0.7"), ipv6: nil),
            .init(name: "", ipv4: nil, ipv6: nil),
        ], overlayPrefixes: [])
        #expect(t.count == 1 && t.domain.description == "mesh.")
        #expect(t.entry(for: DNSName("SELF.mesh")!)?.ipv4 == (try IPAddress("100.64.0.1")))
        #expect(t.name(for: try IPAddress("100.64.0.1"))?.description == "self.mesh.")
        #expect(t.name(for: try IPAddress("100.64.0.5")) == nil)
        #expect(t.entry(for: DNSName("self.other")!) == nil)
    }

    @Test func multiLabelDomain() throws {
        let t = MagicDNSTable(domain: "corp.example", entries: [.init(name: "db", ipv4: try IPAddress("100.64.0.3"), ipv6: nil)],
                              overlayPrefixes: [])
        #expect(t.entry(for: DNSName("db.corp.example")!) != nil)
        #expect(t.entry(for: DNSName("db.example")!) == nil)
    }
}
