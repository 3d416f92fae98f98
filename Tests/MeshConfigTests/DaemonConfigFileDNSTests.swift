import MeshConfig
import Testing

@Suite struct DaemonConfigFileDNSTests {
    @Test func dnsAddressKey() throws {
        #expect(try DaemonConfigFile.parse(#"dns_address = "100.100.100.53""#, file: "m.toml").dnsAddress == "100.100.100.53")
        #expect(try DaemonConfigFile.parse(#"dns_address = "off""#, file: "m.toml").dnsAddress == "off")
        #expect(try DaemonConfigFile.parse("", file: "m.toml").dnsAddress == nil)
        for bad in [#""fd00::53""#, #""0.0.0.0""#, #""on""#, "53"] {
            #expect(throws: DaemonConfigFile.Problem.self) { try DaemonConfigFile.parse("dns_address = \(bad)", file: "m.toml") }
        }
        do {
            _ = try DaemonConfigFile.parse("\n" + #"dns_address = "banana""#, file: "m.toml")
            Issue.record("accepted")
        } catch {
            #expect("\(error)" == #"m.toml:2: dns_address must be an IPv4 address (default 100.100.100.100) or "off", not "banana""#)
        }
    }
}
