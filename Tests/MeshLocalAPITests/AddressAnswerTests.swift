import MeshLocalAPI
import MeshStatus
import Testing

@Suite struct AddressAnswerTests {
    @Test func ownAndPeersAddressesByFamily() throws {
        let s = Fixtures.status
        #expect(try AddressAnswer(.this, in: s, family: .both).lines == ["100.64.0.1", "fd7a:115c:a1e0::1"])
        #expect(try AddressAnswer(.this, in: s, family: .ipv4).lines == ["100.64.0.1"])
        #expect(try AddressAnswer(.peer(s.peers[0]), in: s, family: .ipv6)
                == AddressAnswer(name: "b", ipv4: nil, ipv6: "fd7a:115c:a1e0::2"))
    }

    @Test func standaloneHasNone() {
        var s = Fixtures.status
        s.name = nil
        #expect(throws: PeerLookupError("this node has no overlay addresses: it runs from a config file, not in a network")) {
            try AddressAnswer(.this, in: s, family: .both)
        }
        s = Fixtures.status
        s.ipv6 = nil
        #expect(throws: PeerLookupError("a has no overlay IPv6 address")) { try AddressAnswer(.this, in: s, family: .ipv6) }
    }
}
