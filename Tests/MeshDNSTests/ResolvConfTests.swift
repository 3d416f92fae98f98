import MeshDNS
import Testing

@Suite struct ResolvConfTests {
    @Test func readsNameserversAndTheLastSearchLine() {
        let text = "# generated\nnameserver 192.0.2.53\nnameserver 2001:db8::53 # v6\n;nameserver 10.0.0.1\ndomain old.test\nsearch lab.test example.test\noptions ndots:2\r\n"
        let r = ResolvConf(parsing: text)
        #expect(r.nameservers == ["192.0.2.53", "2001:db8::53"])
        #expect(r.search == ["lab.test", "example.test"])
        let many = ResolvConf(parsing: String(repeating: "nameserver 192.0.2.1\n", count: 100))
        #expect(many.nameservers.count == ResolvConf.maxNameservers)
    }

    @Test func managedFilePutsMagicDNSFirstAndKeepsTheSearchDomains() {
        let original = ResolvConf(nameservers: ["192.0.2.53"], search: ["lab.test", "MESH"])
        #expect(ResolvConf.managed(dnsAddress: "100.100.100.100", domain: "mesh", original: original)
            == "# written by meshd (MagicDNS); the original is restored when meshd stops\nnameserver 100.100.100.100\nsearch mesh lab.test\n")
    }
}

@Suite struct ResolvConfOptionsTests {
    @Test func optionsLinesAddUpAndAreKept() {
        let r = ResolvConf(parsing: "nameserver 192.0.2.53\noptions timeout:1\noptions attempts:2 use-vc # tcp\n")
        #expect(r.options == ["timeout:1", "attempts:2", "use-vc"])
        #expect(ResolvConf.managed(dnsAddress: "100.100.100.100", domain: "mesh", original: r)
            .hasSuffix("search mesh\noptions timeout:1 attempts:2 use-vc\n"))
    }
}
