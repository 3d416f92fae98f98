import MeshBase
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
        var rng = SeededEntropy(seed: 7)
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
