import MeshBase
import Testing

@Suite struct IPPrefixTests {
    @Test func parsesPrefixes() throws {
        let v4 = try IPPrefix("10.0.0.0/24")
        #expect(v4.address == .v4(0x0A00_0000))
        #expect(v4.length == 24)
        let v6 = try IPPrefix("fd00::/64")
        #expect(v6.address == .v6(high: 0xFD00_0000_0000_0000, low: 0))
        #expect(v6.length == 64)
        #expect(try IPPrefix("0.0.0.0/0").length == 0)
        #expect(try IPPrefix("::/0").length == 0)
        #expect(try IPPrefix("fd00::1/128").length == 128)
    }

    @Test func bareAddressIsASingleHost() throws {
        #expect(try IPPrefix("10.0.0.1") == IPPrefix(address: .v4(0x0A00_0001), length: 32))
        #expect(try IPPrefix("fd00::1").length == 128)
        #expect(IPPrefix(host: .v4(1)).length == 32)
    }

    @Test func keepsHostBitsAsWrittenAndMasksOnRequest() throws {
        let interfaceAddress = try IPPrefix("10.0.0.7/24")
        #expect(interfaceAddress.description == "10.0.0.7/24")
        #expect(interfaceAddress.masked == (try IPPrefix("10.0.0.0/24")))
        #expect(try IPPrefix("fd00::1:2:3:4/64").masked.description == "fd00::/64")
        #expect(try IPPrefix("fd00::ffff:ffff:ffff:ffff/65").masked.description == "fd00::8000:0:0:0/65")
        #expect(try IPPrefix("fd00::7fff:ffff:ffff:ffff/65").masked.description == "fd00::/65")
        #expect(try IPPrefix("255.255.255.255/0").masked.description == "0.0.0.0/0")
        #expect(try IPPrefix("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/127").masked.description
            == "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127")
        #expect(try IPPrefix("10.1.2.3").masked.description == "10.1.2.3/32")
    }

    @Test func containsChecksTheNetworkBitsOnly() throws {
        let net = try IPPrefix("10.0.0.0/24")
        #expect(net.contains(try IPAddress("10.0.0.0")))
        #expect(net.contains(try IPAddress("10.0.0.255")))
        #expect(!net.contains(try IPAddress("10.0.1.0")))
        #expect(!net.contains(try IPAddress("9.255.255.255")))
        #expect(try IPPrefix("10.0.0.99/24").contains(try IPAddress("10.0.0.1")))

        let v6 = try IPPrefix("fd00::/64")
        #expect(v6.contains(try IPAddress("fd00::abcd")))
        #expect(v6.contains(try IPAddress("fd00::ffff:ffff:ffff:ffff")))
        #expect(!v6.contains(try IPAddress("fd00:0:0:1::")))
        #expect(!v6.contains(try IPAddress("fd01::")))

        let odd = try IPPrefix("fd00::8000:0:0:0/65")
        #expect(odd.contains(try IPAddress("fd00::ffff:0:0:1")))
        #expect(!odd.contains(try IPAddress("fd00::7fff:0:0:1")))

        let host = try IPPrefix("fd00::1")
        #expect(host.contains(try IPAddress("fd00::1")))
        #expect(!host.contains(try IPAddress("fd00::2")))
    }

    @Test func defaultRoutesCoverOnlyTheirOwnFamily() throws {
        let all4 = try IPPrefix("0.0.0.0/0"), all6 = try IPPrefix("::/0")
        #expect(all4.contains(try IPAddress("203.0.113.9")))
        #expect(!all4.contains(try IPAddress("::ffff:203.0.113.9")))
        #expect(all6.contains(try IPAddress("2001:db8::1")))
        #expect(!all6.contains(try IPAddress("0.0.0.0")))
    }

    @Test(arguments: [
        ("10.0.0.0/33", "33"), ("fd00::/129", "129"), ("10.0.0.0/", "missing length"), ("10.0.0.0/x", "not a decimal"),
        ("/24", "missing address"), ("10.0.0.0/-1", "not a decimal"), ("10.0.0.0/24/1", "not a decimal"),
        ("10.0.0.256/24", "255"), ("10.0.0.0/ 24", "not a decimal"), ("10.0.0.0/99999999999999999999", "exceeds"),
    ])
    func rejectsMalformedPrefixes(text: String, reasonFragment: String) {
        do {
            _ = try IPPrefix(text)
            Issue.record("'\(text)' parsed")
        } catch {
            #expect(error.description.hasPrefix("'\(text)' is not a valid IP prefix"))
            #expect(error.description.contains(reasonFragment), "\(error)")
        }
    }

    @Test func memberwiseInitRejectsImpossibleLengths() {
        #expect(throws: IPParseError.self) { try IPPrefix(address: .v4(0), length: 33) }
        #expect(throws: IPParseError.self) { try IPPrefix(address: .v6(high: 0, low: 0), length: -1) }
    }
}
