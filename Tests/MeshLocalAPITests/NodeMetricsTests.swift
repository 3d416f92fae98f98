import MeshLocalAPI
import MeshStatus
import Testing

@Suite struct NodeMetricsTests {
    @Test func theCountersMeshdKeepsBecomeMetrics() {
        let counters = NodeMetrics.Counters(receivedDatagrams: 100, packetsToTunnel: 40, packetsFromTunnel: 50)
        let text = PrometheusText.render(NodeMetrics.families(status: Fixtures.status, counters: counters, tunnelUp: true))
        for line in ["mesh_build_info{version=\"\(MeshVersion.string)\"} 1",
                     "mesh_udp_datagrams_received_total 100",
                     "mesh_tunnel_packets_delivered_total 40",
                     "mesh_tunnel_packets_sent_total 50",
                     "mesh_tunnel_up 1",
                     "mesh_datagrams_dropped_total 3",
                     "mesh_drops_total{reason=\"badMAC\"} 2",
                     "mesh_disco_drops_total{reason=\"unknownSender\"} 9",
                     "mesh_peers 2",
                     "mesh_peers_online 1",
                     "mesh_peers_absent 1",
                     "mesh_peer_received_bytes_total{peer=\"b\"} 1000",
                     "mesh_peer_sent_bytes_total{peer=\"c\"} 20",
                     "mesh_peer_last_handshake_age_seconds{peer=\"b\"} 5",
                     "mesh_peer_direct{peer=\"b\"} 1",
                     "mesh_peer_direct{peer=\"c\"} 0",
                     "mesh_relay_connected{relay=\"fra\"} 1",
                     "mesh_relay_home{relay=\"fra\"} 1",
                     "mesh_relay_stun_latency_seconds{relay=\"fra\"} 0.012",
                     "mesh_netmap_version 7",
                     "mesh_control_connected{phase=\"connected\"} 1"] {
            #expect(text.contains(line + "\n"), "missing: \(line)")
        }
        // Every sample line belongs to a family announced just before it.
        #expect(!text.contains(Fixtures.keyB))
    }

    @Test func standaloneHasTheDataPlaneOnly() {
        var s = Fixtures.status
        s.relays = nil
        s.discoDrops = nil
        s.control = nil
        s.netmapVersion = nil
        for i in s.peers.indices { s.peers[i].name = nil; s.peers[i].path = nil; s.peers[i].online = nil }
        let names = NodeMetrics.families(status: s, counters: nil, tunnelUp: nil).map(\.name)
        #expect(!names.contains("mesh_relay_connected") && !names.contains("mesh_peer_direct") && !names.contains("mesh_tunnel_up"))
        // Unnamed peers are labelled by their short key.
        let text = PrometheusText.render(NodeMetrics.families(status: s, counters: nil, tunnelUp: nil))
        #expect(text.contains("mesh_peer_received_bytes_total{peer=\"BBBBbbbb\"} 1000"))
    }
}
