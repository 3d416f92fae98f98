import MeshDNS
import Testing

@Suite struct HostResolversTests {
    @Test func magicDNSIsNeverItsOwnUpstream() {
        let file = ResolvConf(parsing: "nameserver 100.100.100.100\nnameserver 192.0.2.53\n")
        #expect(HostResolvers(original: file, excluding: "100.100.100.100").nameservers == ["192.0.2.53"])
        // A file naming only MagicDNS leaves nothing to forward to (not a loop to ourselves).
        let only = ResolvConf(parsing: "nameserver 100.100.100.100\n")
        #expect(HostResolvers(original: only, excluding: "100.100.100.100").nameservers == [])
    }

    @Test func noNameserverLineMeansTheLocalMachine() {
        #expect(HostResolvers(original: ResolvConf(parsing: "search lab.test\n"), excluding: "100.100.100.100").nameservers
            == HostResolvers.noneConfigured)
    }
}
