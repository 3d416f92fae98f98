import Foundation
import MeshStatus
import Testing

@Suite struct NodeStatusTests {
    let mesh = NodeStatus(
        interface: "mesh0", publicKey: "A=", listenPort: 41641, droppedDatagrams: 3, drops: ["malformed": 3],
        peers: [.init(publicKey: "B=", endpoint: "203.0.113.12:41641", lastHandshakeSecondsAgo: 4,
                      rxBytes: 1536, txBytes: 3 << 30, name: "b", ipv4: "100.64.0.2", online: true,
                      path: "direct 203.0.113.12:41641")],
        name: "a", ipv4: "100.64.0.1", ipv6: "fd00::1", coordinator: "http://coord.lab.test:8080",
        control: "connected", netmapVersion: 7,
        relay: .init(id: "default", url: "http://coord.lab.test:8080/relay", home: true, connected: true),
        relays: [.init(id: "default", url: "http://coord.lab.test:8080/relay", home: true, connected: true),
                 .init(id: "fra", url: "http://relay.fra.lab.test:8080/relay", home: false, connected: false)],
        discoDrops: ["unknownSender": 2, "badSeal": 0])

    @Test func jsonRoundTripsAndKeepsTheFieldNamesOfTheLocalAPI() throws {
        let data = try JSONEncoder().encode(mesh)
        #expect(try JSONDecoder().decode(NodeStatus.self, from: data) == mesh)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        for key in ["interface", "publicKey", "listenPort", "droppedDatagrams", "drops", "peers", "name", "ipv4",
                    "coordinator", "control", "netmapVersion", "relay", "relays", "discoDrops"] {
            #expect(object[key] != nil, "\(key)")
        }
    }

    @Test func statusFromBeforeThePresenceAndPathFieldsStillDecodes() throws {
        let json = #"{"interface":"mesh0","publicKey":"A=","listenPort":41641,"droppedDatagrams":0,"drops":{},"peers":[{"publicKey":"B=","rxBytes":0,"txBytes":0,"name":"b","online":true,"path":"relay"}]}"#
        let s = try JSONDecoder().decode(NodeStatus.self, from: Data(json.utf8))
        let p = try #require(s.peers.first)
        #expect(p.relayReason == nil && p.relayRegion == nil && p.latencyMs == nil && p.idle == nil
                && p.lastSeenSecondsAgo == nil)
    }

    @Test func newPeerFieldsRoundTripAndAreLeftOutWhenUnset() throws {
        var p = NodeStatus.PeerStatus(publicKey: "B=", name: "b", online: false, path: "relay")
        let bare = try #require(String(data: try JSONEncoder().encode(p), encoding: .utf8))
        #expect(!bare.contains("relayReason") && !bare.contains("lastSeenSecondsAgo"))
        p.lastSeenSecondsAgo = 180
        p.idle = true
        p.latencyMs = 1.25
        p.relayRegion = "fra"
        p.relayReason = "peer offline"
        #expect(try JSONDecoder().decode(NodeStatus.PeerStatus.self, from: JSONEncoder().encode(p)) == p)
    }

    /// User, tags and absent peers (issue 11): round trip, their JSON names, and a status
    /// from a meshd before them still decodes.
    @Test func userTagsAndAbsentPeersRoundTrip() throws {
        var s = mesh
        s.user = "alice"
        s.tags = []
        s.peers[0].user = nil
        s.peers[0].tags = ["tag:db"]
        s.absentPeers = [.init(publicKey: "C=", name: "c", ipv4: "100.64.0.3", ipv6: "fd00::3", user: "bob", tags: [])]
        let data = try JSONEncoder().encode(s)
        #expect(try JSONDecoder().decode(NodeStatus.self, from: data) == s)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["user"] as? String == "alice")
        let absent = try #require((object["absentPeers"] as? [[String: Any]])?.first)
        #expect(Set(absent.keys) == ["reason", "publicKey", "name", "ipv4", "ipv6", "user", "tags"])
        #expect(absent["reason"] as? String == "policy")
        let peer = try #require((object["peers"] as? [[String: Any]])?.first)
        #expect(peer["tags"] as? [String] == ["tag:db"] && peer["user"] == nil)
        let old = try JSONDecoder().decode(NodeStatus.self, from: JSONEncoder().encode(mesh))
        #expect(old.absentPeers == nil && old.user == nil && old.peers[0].tags == nil)
    }

    @Test func standaloneStatusDecodesWithoutMeshFields() throws {
        let json = #"{"interface":"wg0","publicKey":"A=","listenPort":51820,"droppedDatagrams":0,"drops":{},"peers":[{"publicKey":"B=","rxBytes":0,"txBytes":0}]}"#
        let s = try JSONDecoder().decode(NodeStatus.self, from: Data(json.utf8))
        #expect(s.name == nil && s.relays == nil && s.peers.count == 1)
        let table = StatusTable.render(s)
        #expect(table.contains("PEER  ENDPOINT  HANDSHAKE  RX   TX"))
        #expect(table.contains("B=    -         never      0 B  0 B"))
    }

    @Test func tableShowsNodeRelaysDropsAndPaths() {
        let lines = StatusTable.render(mesh).split(separator: "\n").map(String.init)
        #expect(lines[0] == "interface mesh0  public key A=  listening on UDP 41641")
        #expect(lines[1] == "node a  100.64.0.1  fd00::1  coordinator http://coord.lab.test:8080 (connected)")
        #expect(lines[2] == "relays: default (home) connected, fra down")
        #expect(lines[3] == "dropped datagrams: 3")
        #expect(lines[4] == "disco drops: unknownSender 2")
        #expect(lines[5].hasPrefix("NAME  ADDRESS     STATUS  PATH"))
        #expect(lines[6].contains("direct 203.0.113.12:41641") && lines[6].contains("4s ago")
                && lines[6].contains("1.5 KiB") && lines[6].contains("3.0 GiB"))
    }

    @Test func byteUnitsAreExactForAnySize() {
        #expect(StatusTable.bytes(0) == "0 B")
        #expect(StatusTable.bytes(1023) == "1023 B")
        #expect(StatusTable.bytes(1 << 20) == "1.0 MiB")
        #expect(StatusTable.bytes(.max).hasSuffix(" GiB"))
    }
}
