import MeshStatus

/// A node "a" (100.64.0.1) with peers "b" (direct) and "c" (relayed), as meshd reports them.
enum Fixtures {
    static let keyA = "AAAAaaaa" + String(repeating: "A", count: 35) + "="
    static let keyB = "BBBBbbbb" + String(repeating: "B", count: 35) + "="
    static let keyC = "CCCCcccc" + String(repeating: "C", count: 35) + "="
    static let keyD = "DDDDdddd" + String(repeating: "D", count: 35) + "="

    static var status: NodeStatus {
        NodeStatus(interface: "mesh0", publicKey: keyA, listenPort: 41641, droppedDatagrams: 3,
                   drops: ["badMAC": 2, "notWireGuard": 1],
                   peers: [
                       .init(publicKey: keyB, lastHandshakeSecondsAgo: 5, rxBytes: 1000, txBytes: 2000,
                             name: "b", ipv4: "100.64.0.2", ipv6: "fd7a:115c:a1e0::2", online: true,
                             path: "direct 203.0.113.12:41641", user: "alice", tags: []),
                       .init(publicKey: keyC, rxBytes: 10, txBytes: 20, name: "c", ipv4: "100.64.0.3",
                             ipv6: "fd7a:115c:a1e0::3", online: false, path: "relay", tags: ["tag:db", "tag:eu"]),
                   ],
                   name: "a", ipv4: "100.64.0.1", ipv6: "fd7a:115c:a1e0::1", coordinator: "https://coord.lab.test",
                   control: "connected", netmapVersion: 7,
                   relays: [.init(id: "fra", url: "https://coord.lab.test", home: true, connected: true,
                                  packetsSent: 4, packetsReceived: 5, packetsDropped: 0, latencyMs: 12)],
                   discoDrops: ["badSeal": 0, "unknownSender": 9], user: "alice", tags: [],
                   absentPeers: [.init(publicKey: keyD, name: "d", ipv4: "100.64.0.4", ipv6: "fd7a:115c:a1e0::4",
                                       user: "bob", tags: [])])
    }
}
