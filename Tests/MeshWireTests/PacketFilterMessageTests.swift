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
        wide.rules[0].sources = Array(repeating: "100.64.0.1/32", count: PacketFilterMessage.maxSourcesPerRule + 1)
        #expect(!wide.isWithinBounds)
    }

    /// The per-rule bounds are the largest the coordinator's compiler can send (a node's own two
    /// addresses, every protocol number, every other port as its own range), and one more is refused.
    @Test func perRuleBoundsAreTheCompilersLargestForm() {
        let largest = PacketFilterMessage.Rule(
            sources: ["100.64.0.0/10"], destinations: ["100.64.0.1", "fd7a:115c:a1e0::1"],
            protocols: (0...255).map { UInt8($0) },
            ports: stride(from: 0, through: 65534, by: 2).map { PacketFilterMessage.PortRange(first: UInt16($0), last: UInt16($0)) })
        #expect(largest.ports.count == PacketFilterMessage.maxPortRangesPerRule)
        #expect(largest.protocols.count == PacketFilterMessage.maxProtocolsPerRule)
        #expect(largest.destinations.count == PacketFilterMessage.maxDestinationsPerRule)
        let message = PacketFilterMessage(enforced: true, rules: [filter.rules[0], largest])
        #expect(message.boundsProblem == nil)
        var over = message
        over.rules[1].destinations.append("100.64.0.2")
        #expect(over.boundsProblem == "rule 2: more than 2 destinations (3)")
        over = message
        over.rules[1].ports.append(.init(first: 65535, last: 65535))
        #expect(over.boundsProblem == "rule 2: more than 32768 port ranges (32769)")
        over = message
        over.rules[1].protocols.append(6)
        #expect(over.boundsProblem == "rule 2: more than 256 protocols (257)")
        over = message
        over.rules[0].sources = Array(repeating: "100.64.0.1/32", count: PacketFilterMessage.maxSourcesPerRule + 1)
        #expect(over.boundsProblem == "rule 1: more than 65536 sources (65537)")
        #expect(PacketFilterMessage(enforced: true, rules: Array(repeating: largest, count: PacketFilterMessage.maxRules + 1)).boundsProblem
                == "more than 10000 rules (10001)")
    }
}
