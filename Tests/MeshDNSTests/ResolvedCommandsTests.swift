import MeshDNS
import Testing

@Suite struct ResolvedCommandsTests {
    @Test func perLinkServerAndRoutingDomain() {
        #expect(ResolvedCommands.configure(interface: "mesh0", dnsAddresses: ["100.100.100.100"], domain: "mesh",
                                                  reverseZones: ["64.100.in-addr.arpa"]) == [
            ["resolvectl", "dns", "mesh0", "100.100.100.100"],
            ["resolvectl", "domain", "mesh0", "~mesh", "~64.100.in-addr.arpa"],
            ["resolvectl", "default-route", "mesh0", "false"],
        ])
        #expect(ResolvedCommands.revert(interface: "mesh0") == [["resolvectl", "revert", "mesh0"]])
    }
}
