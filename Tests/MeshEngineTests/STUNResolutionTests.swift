import MeshBase
import MeshEngine
import Netcheck
import Testing

@Suite struct STUNResolutionTests {
    let v4 = UDPAddress(ipv4: 198, 51, 100, 1, port: 3478)
    let v4b = UDPAddress(ipv4: 198, 51, 100, 2, port: 3478)
    let v6 = UDPAddress(addressBytes: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1], port: 3478)!
    let v6b = UDPAddress(addressBytes: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [2], port: 3478)!
    let both = STUNResolution.Families(ipv4: true, ipv6: true)
    let only4 = STUNResolution.Families(ipv4: true, ipv6: false)
    let only6 = STUNResolution.Families(ipv4: false, ipv6: true)

    func names(_ hosts: String...) -> [STUNServerName] {
        hosts.enumerated().map { STUNServerName(relayID: "r\($0.offset)", host: $0.element, port: 3478) }
    }

    @Test func dualStackNodeProbesEachFamilyOnceIPv4First() {
        let table: [String: [UDPAddress]] = ["dual": [v6, v4, v4b, v6b], "v6only": [v6b], "gone": []]
        let r = STUNResolution.resolve(names("dual", "v6only", "gone"), families: both) { host, _ in table[host] ?? [] }
        // The first address of each family; every IPv4 server before any IPv6 one.
        #expect(r.resolved.map(\.address) == [v4, v6, v6b])
        #expect(r.resolved.map(\.relayID) == ["r0", "r0", "r1"])
        #expect(r.unresolved.map(\.host) == ["gone"])
    }

    @Test func aFamilyTheNodeLacksIsNotProbed() {
        let table: [String: [UDPAddress]] = ["dual": [v4, v6], "v6only": [v6b]]
        let r4 = STUNResolution.resolve(names("dual", "v6only"), families: only4) { host, _ in table[host] ?? [] }
        #expect(r4.resolved.map(\.address) == [v4])
        // Unreachable from an IPv4-only node: as good as unresolved (retried later).
        #expect(r4.unresolved.map(\.host) == ["v6only"])
        let r6 = STUNResolution.resolve(names("dual", "v6only"), families: only6) { host, _ in table[host] ?? [] }
        #expect(r6.resolved.map(\.address) == [v6, v6b])
        #expect(r6.unresolved.isEmpty)
    }

    @Test func aNodeWithNoAddressYetTriesBoth() {
        let r = STUNResolution.resolve(names("a"), families: .init(ipv4: false, ipv6: false)) { _, _ in [v4, v6] }
        #expect(r.resolved.map(\.address) == [v4, v6])
    }

    @Test func familiesFromLocalEndpoints() {
        #expect(STUNResolution.Families(localEndpoints: ["10.1.0.10:41641", "[2001:db8:1::10]:41641"]) == both)
        #expect(STUNResolution.Families(localEndpoints: ["10.1.0.10:41641"]) == only4)
        #expect(STUNResolution.Families(localEndpoints: ["[fd00::10]:41641"]) == only6)
        #expect(STUNResolution.Families(localEndpoints: ["not an endpoint"]) == .init(ipv4: false, ipv6: false))
    }
}
