import MeshConfig
import Testing

@Suite struct IPAddressParsingTests {
    @Test(arguments: [
        ("10.0.0.1", IPAddress.v4(0x0A00_0001)),
        ("0.0.0.0", .v4(0)),
        ("255.255.255.255", .v4(0xFFFF_FFFF)),
        ("192.0.2.33", .v4(0xC000_0221)),
    ])
    func parsesIPv4(text: String, expected: IPAddress) throws {
        #expect(try IPAddress(text) == expected)
        #expect(expected.description == text)
    }

    @Test(arguments: [
        ("::", IPAddress.v6(high: 0, low: 0)),
        ("::1", .v6(high: 0, low: 1)),
        ("fd00::1", .v6(high: 0xFD00_0000_0000_0000, low: 1)),
        ("1::", .v6(high: 0x0001_0000_0000_0000, low: 0)),
        ("2001:db8::8:800:200c:417a", .v6(high: 0x2001_0DB8_0000_0000, low: 0x0008_0800_200C_417A)),
        ("1:2:3:4:5:6:7:8", .v6(high: 0x0001_0002_0003_0004, low: 0x0005_0006_0007_0008)),
        ("1:2:3:4:5:6:7::", .v6(high: 0x0001_0002_0003_0004, low: 0x0005_0006_0007_0000)),
        ("::2:3:4:5:6:7:8", .v6(high: 0x0000_0002_0003_0004, low: 0x0005_0006_0007_0008)),
        ("::ffff:1.2.3.4", .v6(high: 0, low: 0x0000_FFFF_0102_0304)),
        ("64:ff9b::192.0.2.33", .v6(high: 0x0064_FF9B_0000_0000, low: 0xC000_0221)),
        ("FD00:ABCD::EF", .v6(high: 0xFD00_ABCD_0000_0000, low: 0xEF)),
        ("0001:0002:0003:0004:0005:0006:0007:0008", .v6(high: 0x0001_0002_0003_0004, low: 0x0005_0006_0007_0008)),
    ])
    func parsesIPv6(text: String, expected: IPAddress) throws {
        #expect(try IPAddress(text) == expected)
    }

    /// RFC 5952: lower case, no leading zeros, longest zero run compressed (the first on a
    /// tie), a single zero group left alone, mapped IPv4 as a dotted quad.
    @Test(arguments: [
        ("2001:0DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:db8:0:0:0:1:0:0", "2001:db8::1:0:0"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("0:0:0:0:0:0:0:0", "::"),
        ("0:0:0:0:0:0:0:1", "::1"),
        ("1:0:0:0:0:0:0:0", "1::"),
        ("::ffff:102:304", "::ffff:1.2.3.4"),
        ("fd00:0:0:0:0:0:0:1", "fd00::1"),
    ])
    func describesCanonically(text: String, canonical: String) throws {
        #expect(try IPAddress(text).description == canonical)
    }

    @Test(arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.a", "1..2.3", "1.2.3.4 ", " 1.2.3.4",
        "1234.1.1.1", "example.com", "-1.2.3.4",
        "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "1::2::3", ":1::", "1::2:", "12345::", "fe80::1%eth0",
        "::g", "1.2.3.4::", "1:2:3:4:5:6:7::8", ":::", ":", "::1.2.3", "::1.2.3.4:5", "1:2:3:4:5:6:7:1.2.3.4",
    ])
    func rejectsMalformedAddresses(text: String) {
        #expect(throws: IPParseError.self) { try IPAddress(text) }
    }

    @Test func errorNamesTheInputAndTheReason() {
        do {
            _ = try IPAddress("256.1.1.1")
            Issue.record("expected an error")
        } catch {
            #expect(error.input == "256.1.1.1")
            #expect(error.description.hasPrefix("'256.1.1.1' is not a valid IP address"))
            #expect(error.description.contains("255"))
        }
        do {
            _ = try IPAddress("fe80::1%eth0")
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("zone"))
        }
    }

    @Test func randomAddressesSurviveDescribeAndParse() throws {
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<2000 {
            let address: IPAddress
            switch rng.next() % 4 {
            case 0: address = .v4(UInt32.random(in: .min ... .max, using: &rng))
            case 1: address = .v6(high: rng.next(), low: rng.next())
            case 2:
                // Sparse addresses exercise the "::" choice.
                let mask = rng.next(), mask2 = rng.next()
                address = .v6(high: rng.next() & mask & 0xFFFF_0000_FFFF_0000, low: rng.next() & mask2 & 0x0000_FFFF_0000_FFFF)
            default: address = .v6(high: 0, low: 0x0000_FFFF_0000_0000 | UInt64(UInt32.random(in: .min ... .max, using: &rng)))
            }
            #expect(try IPAddress(address.description) == address, "\(address)")
        }
    }
}

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
