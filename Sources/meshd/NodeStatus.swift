import WireGuard

/// What `meshctl status` shows; the JSON shape is the local API's contract. The fields after
/// `peers` (and the peer's name and overlay addresses) are set in mesh mode only.
struct NodeStatus: Codable {
    struct PeerStatus: Codable {
        var publicKey: String
        var endpoint: String?
        var lastHandshakeSecondsAgo: Int?
        var rxBytes: UInt64
        var txBytes: UInt64
        var persistentKeepalive: Int?
        var name: String? = nil
        var ipv4: String? = nil
        var ipv6: String? = nil
        var online: Bool? = nil
        /// "direct IP:PORT", "direct IP:PORT (unconfirmed, also relay)" or "relay" in mesh mode.
        var path: String? = nil
    }
    var interface: String
    var publicKey: String
    var listenPort: Int
    var droppedDatagrams: Int
    var drops: [String: Int]
    var peers: [PeerStatus]
    var name: String? = nil
    var ipv4: String? = nil
    var ipv6: String? = nil
    var coordinator: String? = nil
    /// The control connection: starting, registering, connected, unreachable, refused, removed.
    var control: String? = nil
    var controlError: String? = nil
    var netmapVersion: UInt64? = nil
    /// The home relay's connection in mesh mode (the first listed relay while there is no home).
    var relay: RelayStatus? = nil
    /// Every relay the node holds a connection to, in the coordinator's order.
    var relays: [RelayStatus]? = nil
    /// Disco datagrams the path layer refused, by reason (mesh mode): unknownSender, badSeal,
    /// malformed, rateLimited, tooManyCandidates, wrongPeer. Every reason is present.
    var discoDrops: [String: Int]? = nil

    struct RelayStatus: Codable {
        var id: String
        var url: String
        /// Peers send this node's relayed packets here (published to the coordinator).
        var home: Bool
        var connected: Bool
        var packetsSent: Int
        var packetsReceived: Int
        var packetsDropped: Int
    }
}

extension NodeStatus.PeerStatus {
    /// The WireGuard facts both modes show; mesh mode adds name, addresses and path.
    init(_ p: Peer.Snapshot, now: MonotonicTime) {
        self.init(publicKey: p.publicKey.base64, endpoint: p.endpoint?.description,
                  lastHandshakeSecondsAgo: p.lastHandshakeAt.map { Int((now - $0).nanoseconds / 1_000_000_000) },
                  rxBytes: p.rxBytes, txBytes: p.txBytes,
                  persistentKeepalive: p.persistentKeepalive.map { Int($0.nanoseconds / 1_000_000_000) })
    }
}
