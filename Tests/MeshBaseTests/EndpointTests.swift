import MeshBase
import Testing

@Suite struct EndpointTests {
    @Test func parsesIPv4Endpoint() throws {
        let endpoint = try Endpoint("1.2.3.4:51820")
        #expect(endpoint == Endpoint(address: .v4(0x0102_0304), port: 51820))
        #expect(endpoint.description == "1.2.3.4:51820")
    }

    @Test func parsesBracketedIPv6Endpoint() throws {
        let endpoint = try Endpoint("[fd00::1]:51820")
        #expect(endpoint.address == .v6(high: 0xFD00_0000_0000_0000, low: 1))
        #expect(endpoint.port == 51820)
        #expect(endpoint.description == "[fd00::1]:51820")
        #expect(try Endpoint("[::ffff:1.2.3.4]:1").description == "[::ffff:1.2.3.4]:1")
    }

    @Test func portLimits() throws {
        #expect(try Endpoint("10.0.0.1:1").port == 1)
        #expect(try Endpoint("10.0.0.1:65535").port == 65535)
    }

    @Test(arguments: [
        ("vpn.example.com:51820", "hostnames are not supported, use an IP address"),
        ("localhost:51820", "hostnames are not supported"),
        ("fd00::1:51820", "brackets"),
        ("1.2.3.4", "missing ':port'"),
        ("1.2.3.4:", "missing port"),
        ("1.2.3.4:0", "outside 1...65535"),
        ("1.2.3.4:65536", "outside 1...65535"),
        ("1.2.3.4:999999999999999999999", "outside 1...65535"),
        ("1.2.3.4:abc", "not a number"),
        ("1.2.3.4:-1", "not a number"),
        ("[fd00::1]", "missing ':port'"),
        ("[fd00::1:51820", "missing ']'"),
        ("[fd00::1]51820", "missing ':port'"),
        ("[1.2.3.4]:80", "only for IPv6"),
        (":51820", "missing address"),
        ("300.1.1.1:80", "not a valid IP address"),
        ("", "missing ':port'"),
    ])
    func rejects(text: String, reasonFragment: String) {
        do {
            _ = try Endpoint(text)
            Issue.record("'\(text)' parsed")
        } catch {
            #expect(error.input == text)
            #expect(error.description.hasPrefix("'\(text)' is not a valid endpoint: "))
            #expect(error.description.contains(reasonFragment), "\(error)")
        }
    }

    @Test func describeThenParseIsIdentity() throws {
        var rng = SeededEntropy(seed: 3)
        for _ in 0..<500 {
            let address: IPAddress = rng.next() % 2 == 0
                ? .v4(UInt32.random(in: .min ... .max, using: &rng))
                : .v6(high: rng.next(), low: rng.next())
            let endpoint = Endpoint(address: address, port: UInt16.random(in: 1...65535, using: &rng))
            #expect(try Endpoint(endpoint.description) == endpoint)
        }
    }
}
