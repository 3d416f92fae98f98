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
        let out = LocalEndpoints.select(list, port: 41641, excludingInterface: "mesh0", excludingPrefix: "100.64.0.0/10")
        #expect(out == ["10.1.0.10:41641", "198.51.100.20:41641", "100.128.0.1:41641"])
        // Without a prefix, tunnels are still left out by kind.
        let noPrefix = LocalEndpoints.select(list, port: 1, excludingInterface: nil, excludingPrefix: nil)
        #expect(noPrefix == ["10.1.0.10:1", "100.100.3.4:1", "198.51.100.20:1", "100.128.0.1:1"])
        // A prefix that does not parse (or IPv6) excludes nothing more.
        #expect(LocalEndpoints.select(list, port: 1, excludingInterface: nil, excludingPrefix: "fd7a::/48") == noPrefix)
    }

    @Test func gatherStillWorks() {
        // Whatever this machine has: never loopback, never duplicates.
        let out = LocalEndpoints.gather(port: 7, excludingInterface: nil, excludingPrefix: "100.64.0.0/10")
        #expect(!out.contains { $0.hasPrefix("127.") })
        #expect(Set(out).count == out.count)
    }
}
