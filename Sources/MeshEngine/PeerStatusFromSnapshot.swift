import MagicSock
import MeshStatus
import MeshWire
import Netcheck
import Relay
import WireGuard

extension NodeStatus.PeerStatus {
    /// The WireGuard facts both modes show; mesh mode adds name, addresses and path.
    init(_ p: Peer.Snapshot, now: MonotonicTime) {
        self.init(publicKey: p.publicKey.base64, endpoint: p.endpoint?.description,
                  lastHandshakeSecondsAgo: p.lastHandshakeAt.map { Int((now - $0).nanoseconds / 1_000_000_000) },
                  rxBytes: p.rxBytes, txBytes: p.txBytes,
                  persistentKeepalive: p.persistentKeepalive.map { Int($0.nanoseconds / 1_000_000_000) })
    }

    /// What mesh mode knows of the peer besides WireGuard: the netmap's entry (name,
    /// addresses, user, tags, presence), the path layer's view (path, latency, idle) and, while relayed,
    /// through which relay and why (`RelayReason`).
    /// - Parameters:
    ///   - relays: the node's relay connections in the coordinator's order.
    ///   - wallClock: Unix seconds now (the netmap's last-seen times are Unix seconds).
    mutating func addMesh(info: NodeInfo?, path: MagicSock.PathStatus?, relays: [NodeStatus.RelayStatus],
                          netcheck: NetcheckReport?, wallClock: Int64) {
        name = info?.name
        ipv4 = info?.ipv4
        ipv6 = info?.ipv6
        online = info?.online
        homeRelay = info?.homeRelay
        user = info?.user
        tags = info.map { Array($0.tags.prefix(NodeStatus.maxTagsPerNode)) }
        if info?.online == false, let seen = info?.lastSeen {
            lastSeenSecondsAgo = Int(clamping: max(0, wallClock.subtractingReportingOverflow(seen).partialValue))
        }
        guard let path else { return }
        self.path = path.description
        idle = path.idle
        if path.trusted, let rtt = path.latency { latencyMs = Self.milliseconds(rtt) }
        if path.relay {
            let connected = Set(relays.filter(\.connected).map(\.id))
            relayRegion = HomeRelayChoice.route(peerHome: info?.homeRelay, home: relays.first(where: \.home)?.id,
                                                order: relays.map(\.id), isConnected: connected.contains)
            relayReason = RelayReason.explain(.init(peerOnline: info?.online, netcheck: netcheck,
                                                    peerEndpoints: path.published, pingsSent: path.pingsSent,
                                                    pongsReceived: path.pongsReceived))
        }
    }

    /// A round trip in milliseconds to 0.01.
    static func milliseconds(_ d: Duration) -> Double {
        let ms = Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
        return (ms * 100).rounded() / 100
    }
}

extension NodeStatus.AbsentPeer {
    /// A peer the policy hides from this node, from the netmap entry the node last had.
    init(hidden info: NodeInfo) {
        self.init(reason: Self.hiddenByPolicy, publicKey: info.nodeKey, name: info.name, ipv4: info.ipv4, ipv6: info.ipv6,
                  user: info.user, tags: Array(info.tags.prefix(NodeStatus.maxTagsPerNode)))
    }
}
