import MeshNode
import MeshWire
import Testing

@Suite struct NetmapStateExtraRecordsTests {
    static let records = DNSExtraRecords([DNSExtraRecord(name: "db.mesh", type: "A", value: "100.64.0.9")])

    @Test func fullMapsSetExtraRecordsAndDeltasKeepThem() {
        var state = NetmapState()
        state.apply(MapResponse(kind: .full, version: 1, peers: [], extraRecords: Self.records))
        #expect(state.extraRecords == Self.records)
        let before = state
        state.apply(MapResponse(kind: .delta, version: 2, peersRemoved: [99]))
        #expect(state.extraRecords == Self.records)
        #expect(state.sameContent(as: before))
        state.apply(MapResponse(kind: .full, version: 3, peers: []))
        #expect(state.extraRecords == nil)
        #expect(!state.sameContent(as: before))
    }
}
