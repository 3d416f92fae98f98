import MeshCrypto
import MeshEngine
import MeshWire
import Testing

@Suite struct RelayDirectoryTests {
    static func key(_ seed: UInt64) -> PublicKey {
        var e = SeededEntropy(seed: seed)
        return PrivateKey.generate(using: &e).publicKey
    }
    let coordinatorKey = key(1)

    @Test func aCoordinatorThatListsNoRelaysIsTheRelay() {
        for url in ["https://mesh.example.com", "https://mesh.example.com/"] {
            let list = RelayDirectory.effective(listed: [], coordinatorURL: url, coordinatorKey: coordinatorKey)
            #expect(list == [RelayInfo(id: "default", name: "coordinator", url: "https://mesh.example.com/relay",
                                       stunPorts: [3478, 3479], key: coordinatorKey.base64)])
        }
    }

    @Test func theCoordinatorsOwnEntryIsPinnedToItsKeyOthersAreKeptAsListed() {
        let other = Self.key(2).base64
        let listed = [
            RelayInfo(id: "home", url: "https://mesh.example.com:443/relay", stunPorts: [3478]),
            RelayInfo(id: "fra", url: "https://fra.example.com/relay", stunPorts: [3478]),
            RelayInfo(id: "nyc", url: "https://nyc.example.com/relay", stunPorts: [3478], key: other),
            // Same host, other port: not the coordinator, so not pinned.
            RelayInfo(id: "alt", url: "https://mesh.example.com:8443/relay", stunPorts: []),
        ]
        let list = RelayDirectory.effective(listed: listed, coordinatorURL: "https://mesh.example.com/",
                                            coordinatorKey: coordinatorKey)
        #expect(list.map(\.id) == ["home", "fra", "nyc", "alt"])
        #expect(list.map(\.key) == [coordinatorKey.base64, nil, other, nil])
        #expect(list.map(\.url) == listed.map(\.url))
    }
}
