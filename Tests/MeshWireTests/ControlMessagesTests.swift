import Foundation
import MeshWire
import Testing

@Suite struct ControlMessagesTests {
    static func json(_ v: some Encodable) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: try JSONEncoder().encode(v)) as! [String: Any]
    }

    static let node = NodeInfo(id: 7, name: "laptop", nodeKey: String(repeating: "A", count: 43) + "=",
                               discoKey: String(repeating: "B", count: 43) + "=", ipv4: "100.64.0.7",
                               ipv6: "fd7a:1:2::7", endpoints: ["192.0.2.1:41641", "[2001:db8::1]:41641"],
                               homeRelay: "default", online: true, lastSeen: 1_700_000_000, tags: ["tag:server"], os: "linux")

    @Test func registerRoundTripAndFieldNames() throws {
        let req = RegisterRequest(authKey: "secret", hostname: "Laptop.local", os: "linux", discoKey: "k")
        let obj = try Self.json(req)
        #expect(Set(obj.keys) == ["authKey", "hostname", "os", "discoKey"])
        #expect(try JSONDecoder().decode(RegisterRequest.self, from: JSONEncoder().encode(req)) == req)
        let res = RegisterResponse(nodeID: 1, name: "laptop", ipv4: "100.64.0.1", ipv6: "fd00::1", ipv4Prefix: "100.64.0.0/10",
                                   ipv6Prefix: "fd00::/48", tags: [], relays: [RelayInfo(id: "r", url: "http://x/relay", stunPorts: [3478])])
        #expect(try JSONDecoder().decode(RegisterResponse.self, from: JSONEncoder().encode(res)) == res)
    }

    @Test func authKeyMayBeOmitted() throws {
        let text = #"{"hostname":"h","os":"linux","discoKey":"k"}"#
        let req = try JSONDecoder().decode(RegisterRequest.self, from: Data(text.utf8))
        #expect(req.authKey == nil)
    }

    @Test func mapResponseKinds() throws {
        let full = MapResponse(kind: .full, version: 5, self: Self.node, peers: [Self.node], relays: [], domain: "mesh")
        let delta = MapResponse(kind: .delta, version: 6, peersChanged: [Self.node], peersRemoved: [3, 4])
        let keep = MapResponse.keepAlive(version: 6)
        for m in [full, delta, keep] {
            #expect(try JSONDecoder().decode(MapResponse.self, from: JSONEncoder().encode(m)) == m)
        }
        let obj = try Self.json(delta)
        #expect(obj["kind"] as? String == "delta")
        #expect(obj["peersRemoved"] as? [Int] == [3, 4])
        #expect(try Self.json(keep)["kind"] as? String == "keepAlive")
        #expect(try Self.json(full)["self"] != nil)
    }

    /// `peersHidden` (issue 11): optional both ways, so a map from an older coordinator (no
    /// such key) decodes to nil, and an older node, which ignores the key, still removes the
    /// ids through `peersRemoved`.
    @Test func peersHiddenIsOptionalOnTheWire() throws {
        let delta = MapResponse(kind: .delta, version: 6, peersRemoved: [3, 4], peersHidden: [3])
        #expect(try JSONDecoder().decode(MapResponse.self, from: JSONEncoder().encode(delta)) == delta)
        let obj = try Self.json(delta)
        #expect(obj["peersHidden"] as? [Int] == [3] && obj["peersRemoved"] as? [Int] == [3, 4])
        #expect(try Self.json(MapResponse(kind: .delta, version: 6, peersRemoved: [3]))["peersHidden"] == nil)
        let old = #"{"kind":"delta","version":6,"peersRemoved":[3]}"#
        #expect(try JSONDecoder().decode(MapResponse.self, from: Data(old.utf8)).peersHidden == nil)
        #expect(MapResponse.maxHiddenPeers == 128)
    }

    /// What `meshctl whois` shows comes from here: the user (nil for tagged nodes and from
    /// older coordinators) and the tags.
    @Test func nodeInfoCarriesUserAndTags() throws {
        var n = Self.node
        n.user = "alice"
        let obj = try Self.json(n)
        #expect(obj["user"] as? String == "alice" && obj["tags"] as? [String] == ["tag:server"])
        #expect(try JSONDecoder().decode(NodeInfo.self, from: JSONEncoder().encode(n)) == n)
        #expect(try Self.json(Self.node)["user"] == nil)
    }

    @Test func nodeInfoFields() throws {
        let obj = try Self.json(Self.node)
        for key in ["id", "name", "nodeKey", "discoKey", "ipv4", "ipv6", "endpoints", "homeRelay", "online", "lastSeen"] {
            #expect(obj[key] != nil, "NodeInfo lacks \(key)")
        }
    }

    @Test func mapRequestDefaults() throws {
        let req = try JSONDecoder().decode(MapRequest.self, from: Data("{}".utf8))
        #expect(req.sinceVersion == nil && req.endpoints == nil && req.wait == nil)
        let r2 = MapRequest(sinceVersion: 9, endpoints: ["192.0.2.1:1"], homeRelay: "a", discoKey: nil, wait: false)
        #expect(try JSONDecoder().decode(MapRequest.self, from: JSONEncoder().encode(r2)) == r2)
    }

    @Test func errorBodyShape() throws {
        let e = ErrorBody(.authKeyRevoked, "auth key 3 has been revoked")
        let obj = try Self.json(e)
        #expect(obj as? [String: String] == ["error": "auth key 3 has been revoked", "code": "auth_key_revoked"])
        #expect(Set(ErrorCode.allCases.map(\.rawValue)).count == ErrorCode.allCases.count)
    }

    @Test func endpointSyntax() {
        for good in ["192.0.2.1:41641", "[2001:db8::1]:1", "[::ffff:192.0.2.1]:65535", "10.0.0.1:80", "[fe80::1:2:3:4]:9"] {
            #expect(EndpointSyntax.isValid(good), "\(good)")
        }
        for bad in ["", "192.0.2.1", "192.0.2.1:0", "192.0.2.1:65536", "256.1.1.1:5", "1.2.3:4", "[2001:db8::1]", "2001:db8::1:80",
                    "[2001:db8:::1]:5", "host:80", "[1:2:3:4:5:6:7:8:9]:1", "1.2.3.4:+5", " 1.2.3.4:5"] {
            #expect(!EndpointSyntax.isValid(bad), "\(bad)")
        }
    }
}
