import MeshBase
import MeshDNS
import Testing

@Suite struct ReverseZonesTests {
    @Test func theOverlaysIPv4PrefixIsSixtyFourZones() throws {
        let zones = ReverseZones.covering(try IPPrefix("100.64.0.0/10"))
        #expect(zones.count == 64)
        #expect(zones.first == "64.100.in-addr.arpa")
        #expect(zones.last == "127.100.in-addr.arpa")
        #expect(ReverseZones.covering(try IPPrefix("192.0.2.0/24")) == ["2.0.192.in-addr.arpa"])
        #expect(ReverseZones.covering(prefix: "100.64.0.0/10") == zones)
        #expect(ReverseZones.covering(prefix: "not a prefix").isEmpty)
        #expect(ReverseZones.covering(try IPPrefix("198.51.100.0/23")) == ["100.51.198.in-addr.arpa", "101.51.198.in-addr.arpa"])
    }

    @Test func ipv6SplitsAtNibbles() throws {
        #expect(ReverseZones.covering(try IPPrefix("fd7a:115c:a1e0::/48")) == ["0.e.1.a.c.5.1.1.a.7.d.f.ip6.arpa"])
        let two = ReverseZones.covering(try IPPrefix("2001:db8::/31"))
        #expect(two == ["8.b.d.0.1.0.0.2.ip6.arpa", "9.b.d.0.1.0.0.2.ip6.arpa"])
    }

    @Test func shortPrefixesStayBounded() throws {
        #expect(ReverseZones.covering(try IPPrefix("0.0.0.0/0")).count == 256)
        #expect(ReverseZones.covering(try IPPrefix("::/0")).count == 16)
        #expect(ReverseZones.covering(try IPPrefix("10.0.0.0/7")).count == 2)
    }
}
