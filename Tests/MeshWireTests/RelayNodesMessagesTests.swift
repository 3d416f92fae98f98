import Foundation
import MeshWire
import Testing

/// The bodies of `POST /v1/relay/nodes` (a remote relay asking which node keys to admit).
@Suite struct RelayNodesMessagesTests {
    static func json(_ v: some Encodable) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: try JSONEncoder().encode(v)) as! [String: Any]
    }

    @Test func requestRoundTripAndFieldNames() throws {
        for req in [RelayNodesRequest(), RelayNodesRequest(sinceVersion: 42, wait: false),
                    RelayNodesRequest(sinceVersion: .max, wait: true)] {
            #expect(try JSONDecoder().decode(RelayNodesRequest.self, from: JSONEncoder().encode(req)) == req)
        }
        #expect(Set(try Self.json(RelayNodesRequest(sinceVersion: 1, wait: true)).keys) == ["sinceVersion", "wait"])
        let first = try JSONDecoder().decode(RelayNodesRequest.self, from: Data(#"{"wait":true}"#.utf8))
        #expect(first.sinceVersion == nil && first.wait)
        #expect(RelayNodesRequest().wait, "a relay waits by default")
    }

    @Test func responseRoundTripKeepsUnchangedApartFromEmpty() throws {
        let keys = [String(repeating: "A", count: 43) + "=", String(repeating: "B", count: 43) + "="]
        let list = RelayNodesResponse(version: 7, nodeKeys: keys)
        let empty = RelayNodesResponse(version: 8, nodeKeys: [])
        let unchanged = RelayNodesResponse(version: 8, nodeKeys: nil)
        for r in [list, empty, unchanged] {
            #expect(try JSONDecoder().decode(RelayNodesResponse.self, from: JSONEncoder().encode(r)) == r)
        }
        // "No node is active" and "nothing changed" must stay different on the wire.
        #expect(try Self.json(empty)["nodeKeys"] as? [String] == [])
        #expect(try Self.json(unchanged)["nodeKeys"] == nil)
        #expect(try Self.json(list)["version"] as? Int == 7)
    }
}
