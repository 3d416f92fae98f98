import MeshWire
import Netcheck
import Testing

@Suite struct STUNServerNameTests {
    @Test func namesComeFromTheRelayListInOrder() {
        let relays = [
            RelayInfo(id: "default", url: "http://coord.example.test:8080/relay", stunPorts: [3478, 3479]),
            RelayInfo(id: "fra", url: "http://fra.example.test/relay", stunHost: "stun.fra.example.test", stunPorts: [3478]),
            RelayInfo(id: "v6", url: "http://[2001:db8::9]/relay", stunPorts: [3478]),
        ]
        let names = STUNServerName.servers(of: relays)
        #expect(names.map(\.description) == ["coord.example.test:3478", "coord.example.test:3479",
                                              "stun.fra.example.test:3478", "[2001:db8::9]:3478"])
        #expect(names.map(\.relayID) == ["default", "default", "fra", "v6"])
    }

    @Test func badPortsRelaysWithoutHostAndExcessAreLeftOut() {
        let relays = [
            RelayInfo(id: "a", url: "not a url", stunPorts: [3478]),
            RelayInfo(id: "b", url: "http://b.example.test/relay", stunPorts: [0, -1, 70000, 3478, 3479, 3480]),
        ] + (0..<20).map { RelayInfo(id: "r\($0)", url: "http://r\($0).example.test/relay", stunPorts: [3478]) }
        let names = STUNServerName.servers(of: relays, maxRelays: 8)
        // a has no host; b's out-of-range ports are skipped and two valid ones kept; 8 relays read.
        #expect(names.filter { $0.relayID == "b" }.map(\.port) == [3478, 3479])
        #expect(names.count == 8)
        #expect(names.map(\.relayID) == ["b", "b", "r0", "r1", "r2", "r3", "r4", "r5"])
    }
}
