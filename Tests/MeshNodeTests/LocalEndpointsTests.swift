import MeshBase
import MeshNode
import Testing

@Suite struct LocalEndpointsTests {
    typealias I = LocalEndpoints.InterfaceAddress

    @Test func tunnelsAndTheOverlayPrefixAreNotPublished() {
        let list: [I] = [
            I(name: "lo", ipv4: (127, 0, 0, 1), isLoopback: true),
            I(name: "eth0", ipv4: (10, 1, 0, 10)),
            I(name: "mesh0", ipv4: (100, 64, 0, 2), isPointToPoint: true),  // our own overlay
            I(name: "wg0", ipv4: (10, 99, 0, 1)),                            // another WireGuard
            I(name: "tun7", ipv4: (10, 98, 0, 1)),
            I(name: "other", ipv4: (100, 64, 0, 9), isPointToPoint: true),   // a second tunnel of this mesh
            I(name: "veth-x", ipv4: (100, 100, 3, 4)),                       // inside the overlay prefix
            I(name: "ppp0", ipv4: (198, 51, 100, 20), isPointToPoint: true), // a real uplink
            I(name: "eth1", ipv4: (192, 0, 2, 5), isUp: false),
            I(name: "eth2", ipv4: (100, 128, 0, 1)),                         // just outside 100.64/10
        ]
        let out = LocalEndpoints.select(list, port: 41641, excludingInterface: "mesh0", excludingPrefixes: ["100.64.0.0/10"])
        #expect(out == ["10.1.0.10:41641", "198.51.100.20:41641", "100.128.0.1:41641"])
        // Without a prefix, tunnels are still left out by kind.
        let noPrefix = LocalEndpoints.select(list, port: 1, excludingInterface: nil, excludingPrefixes: [])
        #expect(noPrefix == ["10.1.0.10:1", "100.100.3.4:1", "198.51.100.20:1", "100.128.0.1:1"])
        // A prefix that does not parse, or of the other family, excludes nothing more.
        #expect(LocalEndpoints.select(list, port: 1, excludingInterface: nil, excludingPrefixes: ["fd7a::/48", "bogus"]) == noPrefix)
    }

    func v6(_ name: String, _ text: String, isUp: Bool = true, isLoopback: Bool = false, isPreferred: Bool = true) -> I {
        I(name: name, address: try! IPAddress(text), isUp: isUp, isLoopback: isLoopback, isPreferred: isPreferred)
    }

    /// Global and ULA IPv6 addresses are published after the IPv4 ones, in RFC 5952 text;
    /// link-local, loopback, multicast, mapped, site-local, not-yet-usable addresses and the
    /// overlay's IPv6 prefix are not.
    @Test func ipv6GlobalAndULAOnly() {
        let list: [I] = [
            v6("lo", "::1", isLoopback: true),
            v6("eth0", "fe80::1c2:3ff:fe04:506"),                // link-local: needs a zone
            v6("eth0", "2001:db8:1:0:0:0:0:10"),
            I(name: "eth0", ipv4: (10, 1, 0, 10)),
            v6("eth0", "fd12:3456:789a::10"),                     // ULA
            v6("eth0", "2001:db8:1::99", isPreferred: false),    // tentative or deprecated
            v6("eth0", "ff02::1"),
            v6("eth0", "::ffff:10.1.0.10"),
            v6("eth0", "fec0::1"),                                // deprecated site-local
            v6("eth0", "::"),
            v6("mesh0", "fd7a:115c:a1e0::5"),                     // our overlay interface
            v6("veth-y", "fd7a:115c:a1e0::9"),                    // inside the overlay prefix
            v6("wg1", "2001:db8:99::1"),                          // another tunnel
            v6("eth1", "2001:db8:5::1", isUp: false),
            v6("eth0", "2001:db8:1::10"),                         // the same again
        ]
        let out = LocalEndpoints.select(list, port: 41641, excludingInterface: "mesh0",
                                        excludingPrefixes: ["100.64.0.0/10", "fd7a:115c:a1e0::/48"])
        #expect(out == ["10.1.0.10:41641", "[2001:db8:1::10]:41641", "[fd12:3456:789a::10]:41641"])
    }

    @Test func atMostEightPerFamily() {
        let list = (1...20).map { v6("eth0", "2001:db8::\($0)") } + (1...20).map { I(name: "eth0", ipv4: (10, 0, 0, UInt8($0))) }
        let out = LocalEndpoints.select(list, port: 1, excludingInterface: nil, excludingPrefixes: [])
        #expect(out.count == 2 * LocalEndpoints.maxPerFamily)
        #expect(out.first == "10.0.0.1:1" && out.last == "[2001:db8::8]:1")
    }

    @Test func gatherStillWorks() {
        // Whatever this machine has: never loopback or link-local, never duplicates.
        let out = LocalEndpoints.gather(port: 7, excludingInterface: nil, excludingPrefixes: ["100.64.0.0/10"])
        #expect(!out.contains { $0.hasPrefix("127.") || $0.hasPrefix("[::1]") || $0.lowercased().hasPrefix("[fe80") })
        #expect(Set(out).count == out.count)
    }
}
