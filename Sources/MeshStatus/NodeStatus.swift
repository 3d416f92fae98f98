/// What `meshctl status` shows: one type, encoded by meshd's local API and decoded by
/// meshctl, so the two cannot drift apart (the role Tailscale's ipnstate plays). The JSON shape
/// is the local API's contract; fields after `peers` (and a peer's name, addresses, online and
/// path) are set in mesh mode only.
public struct NodeStatus: Codable, Sendable, Equatable {
    public struct PeerStatus: Codable, Sendable, Equatable {
        public var publicKey: String
        public var endpoint: String?
        public var lastHandshakeSecondsAgo: Int?
        public var rxBytes: UInt64
        public var txBytes: UInt64
        public var persistentKeepalive: Int?
        public var name: String?
        public var ipv4: String?
        public var ipv6: String?
        public var online: Bool?
        /// "direct IP:PORT", "direct IP:PORT (unconfirmed, also relay)" or "relay" in mesh mode.
        public var path: String?
        /// The relay the peer calls home, as the netmap says: where our relayed packets for
        /// it go when we hold a connection there.
        public var homeRelay: String?
        /// Offline peers: seconds since the coordinator last saw the peer (nil when never seen
        /// or online).
        public var lastSeenSecondsAgo: Int?
        /// No data either way for a while (the path layer's session timeout): the path is only
        /// kept alive, and latency and path may be stale.
        public var idle: Bool?
        /// Round trip of the last disco Pong on the direct path, in milliseconds to 0.01.
        public var latencyMs: Double?
        /// While relayed: the relay (region id) our packets for the peer go through now.
        public var relayRegion: String?
        /// While relayed: why there is no direct path, in a few words ("hard NAT on this
        /// side", "UDP blocked on this side", "no answer yet on direct candidates", ...).
        public var relayReason: String?
        /// The user the peer belongs to, as the netmap says (nil for tagged nodes).
        public var user: String?
        /// The peer's tags, as the netmap says (nil or empty: none).
        public var tags: [String]?

        public init(publicKey: String, endpoint: String? = nil, lastHandshakeSecondsAgo: Int? = nil,
                    rxBytes: UInt64 = 0, txBytes: UInt64 = 0, persistentKeepalive: Int? = nil,
                    name: String? = nil, ipv4: String? = nil, ipv6: String? = nil, online: Bool? = nil,
                    path: String? = nil, homeRelay: String? = nil, lastSeenSecondsAgo: Int? = nil, idle: Bool? = nil,
                    latencyMs: Double? = nil, relayRegion: String? = nil, relayReason: String? = nil,
                    user: String? = nil, tags: [String]? = nil) {
            self.user = user
            self.tags = tags
            self.homeRelay = homeRelay
            self.lastSeenSecondsAgo = lastSeenSecondsAgo
            self.idle = idle
            self.latencyMs = latencyMs
            self.relayRegion = relayRegion
            self.relayReason = relayReason
            self.publicKey = publicKey
            self.endpoint = endpoint
            self.lastHandshakeSecondsAgo = lastHandshakeSecondsAgo
            self.rxBytes = rxBytes
            self.txBytes = txBytes
            self.persistentKeepalive = persistentKeepalive
            self.name = name
            self.ipv4 = ipv4
            self.ipv6 = ipv6
            self.online = online
            self.path = path
        }
    }

    /// A peer this node was shown before that the coordinator says still exists but the
    /// access policy now hides from us: not configured, no traffic either way. Name, key,
    /// addresses, user and tags are as this node last had them (the coordinator sends nothing
    /// new about a hidden peer).
    public struct AbsentPeer: Codable, Sendable, Equatable {
        /// Why the peer is absent; "policy" (the only reason so far).
        public var reason: String
        public var publicKey: String
        public var name: String
        public var ipv4: String?
        public var ipv6: String?
        public var user: String?
        public var tags: [String]?

        public static let hiddenByPolicy = "policy"

        public init(reason: String = AbsentPeer.hiddenByPolicy, publicKey: String, name: String, ipv4: String? = nil,
                    ipv6: String? = nil, user: String? = nil, tags: [String]? = nil) {
            self.reason = reason
            self.publicKey = publicKey
            self.name = name
            self.ipv4 = ipv4
            self.ipv6 = ipv6
            self.user = user
            self.tags = tags
        }
    }

    public struct RelayStatus: Codable, Sendable, Equatable {
        public var id: String
        public var url: String
        /// Peers send this node's relayed packets here (published to the coordinator).
        public var home: Bool
        public var connected: Bool
        public var packetsSent: Int
        public var packetsReceived: Int
        public var packetsDropped: Int
        /// How the relay stream is carried: "upgrade" (the mesh-relay HTTP upgrade) or
        /// "websocket" (after a proxy refused the upgrade, or as configured).
        public var transport: String?
        /// The STUN round trip to the relay's region in the last probe (what the home relay
        /// is chosen by); nil when it did not answer or was not probed.
        public var latencyMs: Int?
        /// Round trip of the last ping answered on the relay connection itself.
        public var pingMs: Double?

        public init(id: String, url: String, home: Bool, connected: Bool,
                    packetsSent: Int = 0, packetsReceived: Int = 0, packetsDropped: Int = 0, transport: String? = nil,
                    latencyMs: Int? = nil, pingMs: Double? = nil) {
            self.transport = transport
            self.latencyMs = latencyMs
            self.pingMs = pingMs
            self.id = id
            self.url = url
            self.home = home
            self.connected = connected
            self.packetsSent = packetsSent
            self.packetsReceived = packetsReceived
            self.packetsDropped = packetsDropped
        }
    }

    public var interface: String
    public var publicKey: String
    public var listenPort: Int
    public var droppedDatagrams: Int
    public var drops: [String: Int]
    public var peers: [PeerStatus]
    public var name: String?
    public var ipv4: String?
    public var ipv6: String?
    public var coordinator: String?
    /// The control connection: starting, registering, connected, unreachable, refused, removed.
    public var control: String?
    public var controlError: String?
    public var netmapVersion: UInt64?
    /// The home relay's connection (the first listed relay while there is no home).
    public var relay: RelayStatus?
    /// Every relay the node holds a connection to, in the coordinator's order.
    public var relays: [RelayStatus]?
    /// Disco datagrams the path layer refused, by reason: unknownSender, badSeal, malformed,
    /// rateLimited, tooManyCandidates, wrongPeer. Every reason is present.
    public var discoDrops: [String: Int]?
    /// This node's user and tags, as its netmap entry says (mesh mode).
    public var user: String?
    public var tags: [String]?
    /// Mesh mode: peers the access policy now hides from this node (see `AbsentPeer`);
    /// empty when none.
    public var absentPeers: [AbsentPeer]?
    /// Mesh mode with MagicDNS on: its addresses and query counters.
    public var dns: DNSStatus?
    /// The data path's offloads and their counters.
    public var dataPath: DataPathStatus?

    /// Tags listed per node at most (the coordinator's list is cut there, against a netmap
    /// that would make every status answer large).
    public static let maxTagsPerNode = 64

    public init(interface: String, publicKey: String, listenPort: Int, droppedDatagrams: Int,
                drops: [String: Int], peers: [PeerStatus], name: String? = nil, ipv4: String? = nil,
                ipv6: String? = nil, coordinator: String? = nil, control: String? = nil,
                controlError: String? = nil, netmapVersion: UInt64? = nil, relay: RelayStatus? = nil,
                relays: [RelayStatus]? = nil, discoDrops: [String: Int]? = nil, user: String? = nil,
                tags: [String]? = nil, absentPeers: [AbsentPeer]? = nil) {
        self.user = user
        self.tags = tags
        self.absentPeers = absentPeers
        self.interface = interface
        self.publicKey = publicKey
        self.listenPort = listenPort
        self.droppedDatagrams = droppedDatagrams
        self.drops = drops
        self.peers = peers
        self.name = name
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.coordinator = coordinator
        self.control = control
        self.controlError = controlError
        self.netmapVersion = netmapVersion
        self.relay = relay
        self.relays = relays
        self.discoDrops = discoDrops
    }
}

/// The local API's answer when a request fails: `{"error": "..."}`.
public struct LocalAPIError: Codable, Sendable, Equatable, Error, CustomStringConvertible {
    public var error: String
    public init(error: String) { self.error = error }
    public var description: String { error }
}
