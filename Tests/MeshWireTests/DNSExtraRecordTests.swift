import Foundation
import MeshWire
import Testing

@Suite struct DNSExtraRecordTests {
    static let records = DNSExtraRecords([
        DNSExtraRecord(name: "db.mesh", type: "A", value: "100.64.0.9"),
        DNSExtraRecord(name: "db.mesh", type: "AAAA", value: "fd7a:115c:a1e0::9"),
    ])

    @Test func mapResponseCarriesExtraRecordsAsAPlainArray() throws {
        let full = MapResponse(kind: .full, version: 3, peers: [], domain: "mesh", extraRecords: Self.records)
        let json = try JSONEncoder().encode(full)
        let text = String(decoding: json, as: UTF8.self)
        #expect(text.contains(#""extraRecords":[{"#))
        #expect(try JSONDecoder().decode(MapResponse.self, from: json) == full)
        // From a coordinator that predates the field: none.
        let old = try JSONDecoder().decode(MapResponse.self, from: Data(#"{"kind":"full","version":1}"#.utf8))
        #expect(old.extraRecords == nil)
    }

    @Test func decoderRefusesTooManyOrTooLongRecords() throws {
        let one = #"{"name":"x.mesh","type":"A","value":"100.64.0.1"}"#
        let atLimit = "{\"kind\":\"full\",\"version\":1,\"extraRecords\":[" + Array(repeating: one, count: DNSExtraRecords.maxCount).joined(separator: ",") + "]}"
        #expect(try JSONDecoder().decode(MapResponse.self, from: Data(atLimit.utf8)).extraRecords?.records.count == DNSExtraRecords.maxCount)
        let over = "{\"kind\":\"full\",\"version\":1,\"extraRecords\":[" + Array(repeating: one, count: DNSExtraRecords.maxCount + 1).joined(separator: ",") + "]}"
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(MapResponse.self, from: Data(over.utf8)) }
        let long = "{\"kind\":\"full\",\"version\":1,\"extraRecords\":[{\"name\":\"" + String(repeating: "a", count: 300) + "\",\"type\":\"A\",\"value\":\"1.2.3.4\"}]}"
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(MapResponse.self, from: Data(long.utf8)) }
    }
}
