import Foundation
import MeshWire
import Testing

@Suite struct PacketFilterMessageTests {
    private let filter = PacketFilterMessage(enforced: true, rules: [
        .init(sources: ["100.64.0.3/32", "fd7a:115c:a1e0::3/128"], destinations: ["100.64.0.2"],
              protocols: [6], ports: [.init(first: 5432, last: 5432)]),
    ], policyVersion: 7)

    @Test func roundTripsInsideAMapResponse() throws {
        let map = MapResponse(kind: .full, version: 3, peers: [], packetFilter: filter)
        let back = try JSONDecoder().decode(MapResponse.self, from: JSONEncoder().encode(map))
        #expect(back.packetFilter == filter)
    }

    /// A coordinator from before policies sends neither key: the node reads "no filter" and no user.
    @Test func olderCoordinatorsJSONHasNone() throws {
        let json = #"{"kind":"full","version":1,"peers":[{"id":2,"name":"b","nodeKey":"k","discoKey":"d","ipv4":"100.64.0.2","ipv6":"fd00::2","endpoints":[],"online":true,"tags":[]}]}"#
        let map = try JSONDecoder().decode(MapResponse.self, from: Data(json.utf8))
        #expect(map.packetFilter == nil)
        #expect(map.peers?.first?.user == nil)
    }

    @Test func boundsAreChecked() {
        #expect(filter.isWithinBounds)
        #expect(PacketFilterMessage.allowAll.isWithinBounds)
        let many = PacketFilterMessage(enforced: true, rules: Array(repeating: filter.rules[0], count: PacketFilterMessage.maxRules + 1))
        #expect(!many.isWithinBounds)
        var wide = filter
        wide.rules[0].sources = Array(repeating: "100.64.0.1/32", count: PacketFilterMessage.maxItemsPerRule + 1)
        #expect(!wide.isWithinBounds)
    }
}
