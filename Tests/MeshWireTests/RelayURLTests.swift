import MeshWire
import Testing

@Suite struct RelayURLTests {
    @Test func parsesNamesLiteralsPortsAndPaths() throws {
        let a = try #require(RelayURL("http://coord.example.test:8080"))
        #expect(a.host == "coord.example.test" && a.port == 8080 && a.path == "/relay" && !a.secure)
        let b = try #require(RelayURL("https://relay.example.test/r"))
        #expect(b.host == "relay.example.test" && b.port == 443 && b.path == "/r" && b.secure)
        let c = try #require(RelayURL("http://[2001:db8::7]:80/relay"))
        #expect(c.host == "2001:db8::7" && c.port == 80 && c.hostPort == "[2001:db8::7]:80")
        let d = try #require(RelayURL("http://192.0.2.1/"))
        #expect(d.host == "192.0.2.1" && d.port == 80 && d.path == "/relay")
        #expect(c.description == "http://[2001:db8::7]:80/relay")
    }

    @Test func refusesWhatIsNotARelayURL() {
        for bad in ["", "ftp://x/relay", "http://", "http://:80", "http://h:0", "http://h:65536", "http://h:-1",
                    "http://h:99999999999999999999", "http://user@h/relay", "http://[2001:db8::1/relay",
                    "http://[x]:80", "http://h:80:90", "http://h:8a", "http://h:+80", "http://h o/relay", "http://hé/relay"] {
            #expect(RelayURL(bad) == nil, "\(bad)")
        }
    }
}
