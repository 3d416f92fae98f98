import MeshStatus

/// The metrics a node has without a metrics library: the counters meshd already keeps (the
/// data plane's, per peer, per relay, disco's), read at the moment of the request. Names
/// follow Prometheus conventions (`mesh_` prefix, `_total` for counters, base units); peers
/// are labelled by name (their short key when they have none), never by anything secret.
public enum NodeMetrics {
    typealias Sample = MetricFamily.Sample
    /// Data-plane totals the status does not carry, by the name `LocalAPIServices` gives them.
    public struct Counters: Sendable, Equatable {
        public var receivedDatagrams: Int
        public var packetsToTunnel: Int
        public var packetsFromTunnel: Int
        public init(receivedDatagrams: Int, packetsToTunnel: Int, packetsFromTunnel: Int) {
            self.receivedDatagrams = receivedDatagrams
            self.packetsToTunnel = packetsToTunnel
            self.packetsFromTunnel = packetsFromTunnel
        }
    }

    public static func families(status s: NodeStatus, counters: Counters?, tunnelUp: Bool?) -> [MetricFamily] {
        var out: [MetricFamily] = []
        func add(_ name: String, _ type: MetricFamily.Kind, _ help: String, _ samples: [MetricFamily.Sample]) {
            out.append(MetricFamily(name: name, help: help, type: type, samples: samples))
        }
        add("mesh_build_info", .gauge, "The version of this meshd (the value is always 1).",
            [Sample(labels: ["version": MeshVersion.string], value: 1)])
        if let tunnelUp {
            add("mesh_tunnel_up", .gauge, "1 while the tunnel is up, 0 after `meshctl down`.", [Sample(value: tunnelUp ? 1 : 0)])
        }
        if let c = counters {
            add("mesh_udp_datagrams_received_total", .counter, "Datagrams received on the node's UDP socket and from relays.",
                [Sample(value: Double(c.receivedDatagrams))])
            add("mesh_tunnel_packets_delivered_total", .counter, "Packets decrypted and written to the TUN device.",
                [Sample(value: Double(c.packetsToTunnel))])
            add("mesh_tunnel_packets_sent_total", .counter, "Packets read from the TUN device to be sent to peers.",
                [Sample(value: Double(c.packetsFromTunnel))])
        }
        add("mesh_datagrams_dropped_total", .counter, "Datagrams received and not delivered or answered.",
            [Sample(value: Double(s.droppedDatagrams))])
        add("mesh_drops_total", .counter, "Drops by reason (data plane).",
            s.drops.sorted { $0.key < $1.key }.map { Sample(labels: ["reason": $0.key], value: Double($0.value)) })
        if let disco = s.discoDrops {
            add("mesh_disco_drops_total", .counter, "Disco datagrams refused, by reason.",
                disco.sorted { $0.key < $1.key }.map { Sample(labels: ["reason": $0.key], value: Double($0.value)) })
        }
        add("mesh_peers", .gauge, "Peers configured on the device.", [Sample(value: Double(s.peers.count))])
        if s.peers.contains(where: { $0.online != nil }) {
            add("mesh_peers_online", .gauge, "Peers the coordinator says are online.",
                [Sample(value: Double(s.peers.filter { $0.online == true }.count))])
        }
        if let absent = s.absentPeers {
            add("mesh_peers_absent", .gauge, "Peers the access policy now hides from this node (not configured).",
                [Sample(value: Double(absent.count))])
        }
        let peers = s.peers.map { (label: ["peer": $0.name ?? KeyShortForm.of($0.publicKey)], p: $0) }
        add("mesh_peer_received_bytes_total", .counter, "Bytes received from the peer (WireGuard transport).",
            peers.map { Sample(labels: $0.label, value: Double($0.p.rxBytes)) })
        add("mesh_peer_sent_bytes_total", .counter, "Bytes sent to the peer (WireGuard transport).",
            peers.map { Sample(labels: $0.label, value: Double($0.p.txBytes)) })
        add("mesh_peer_last_handshake_age_seconds", .gauge, "Seconds since the peer's last completed handshake.",
            peers.compactMap { e in e.p.lastHandshakeSecondsAgo.map { Sample(labels: e.label, value: Double($0)) } })
        if s.peers.contains(where: { $0.path != nil }) {
            add("mesh_peer_direct", .gauge, "1 when packets to the peer take a confirmed direct path, 0 when relayed.",
                peers.map { Sample(labels: $0.label, value: ($0.p.path ?? "").hasPrefix("direct ") && !($0.p.path ?? "").contains("unconfirmed") ? 1 : 0) })
        }
        if let relays = s.relays {
            let label = { (r: NodeStatus.RelayStatus) in ["relay": r.id] }
            add("mesh_relay_connected", .gauge, "1 while the node holds a connection to the relay.",
                relays.map { Sample(labels: label($0), value: $0.connected ? 1 : 0) })
            add("mesh_relay_home", .gauge, "1 for the node's home relay (where peers send its relayed packets).",
                relays.map { Sample(labels: label($0), value: $0.home ? 1 : 0) })
            add("mesh_relay_packets_sent_total", .counter, "Packets sent through the relay.",
                relays.map { Sample(labels: label($0), value: Double($0.packetsSent)) })
            add("mesh_relay_packets_received_total", .counter, "Packets received through the relay.",
                relays.map { Sample(labels: label($0), value: Double($0.packetsReceived)) })
            add("mesh_relay_packets_dropped_total", .counter, "Packets the relay connection dropped.",
                relays.map { Sample(labels: label($0), value: Double($0.packetsDropped)) })
            add("mesh_relay_stun_latency_seconds", .gauge, "STUN round trip to the relay's region in the last probe.",
                relays.compactMap { r in r.latencyMs.map { Sample(labels: label(r), value: Double($0) / 1000) } })
        }
        if let v = s.netmapVersion {
            add("mesh_netmap_version", .gauge, "Version of the netmap the node follows.", [Sample(value: Double(v))])
        }
        if let c = s.control {
            add("mesh_control_connected", .gauge, "1 while the node follows the coordinator's netmap.",
                [Sample(labels: ["phase": c], value: c == "connected" ? 1 : 0)])
        }
        return out.sorted { $0.name < $1.name }
    }
}
