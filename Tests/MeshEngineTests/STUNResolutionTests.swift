import MeshBase
import MeshEngine
import Netcheck
import Testing

@Suite struct STUNResolutionTests {
    let v4 = UDPAddress(ipv4: 198, 51, 100, 1, port: 3478)
    let v6 = UDPAddress(addressBytes: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1], port: 3478)!

    func names(_ hosts: String...) -> [STUNServerName] {
        hosts.enumerated().map { STUNServerName(relayID: "r\($0.offset)", host: $0.element, port: 3478) }
    }

    @Test func oneFamilyForAllServersIPv4WhenAnyHasIt() {
        let table: [String: [UDPAddress]] = ["dual": [v6, v4], "v6only": [v6], "gone": []]
        let r = STUNResolution.resolve(names("dual", "v6only", "gone")) { host, _ in table[host] ?? [] }
        #expect(r.resolved.map(\.address) == [v4])
        #expect(r.resolved.map(\.relayID) == ["r0"])
        // The IPv6-only name cannot be compared with an IPv4 mapping: left out like an unresolved one.
        #expect(r.unresolved.map(\.host) == ["v6only", "gone"])
    }

    @Test func ipv6WhenNoNameHasIPv4() {
        let r = STUNResolution.resolve(names("a", "b")) { _, _ in [v6] }
        #expect(r.resolved.map(\.address) == [v6, v6])
        #expect(r.unresolved.isEmpty)
    }
}
