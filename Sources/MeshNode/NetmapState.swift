import MeshWire

/// One peer whose netmap entry changed: what it was and what it is now.
public struct PeerChange: Equatable, Sendable {
    public var old: NodeInfo
    public var new: NodeInfo
    public init(old: NodeInfo, new: NodeInfo) {
        self.old = old
        self.new = new
    }
}

/// What one map answer changed in the peer set.
public struct PeerDiff: Equatable, Sendable {
    public var added: [NodeInfo] = []
    public var changed: [PeerChange] = []
    public var removed: [NodeInfo] = []
    public init(added: [NodeInfo] = [], changed: [PeerChange] = [], removed: [NodeInfo] = []) {
        self.added = added
        self.changed = changed
        self.removed = removed
    }
    public var isEmpty: Bool { added.isEmpty && changed.isEmpty && removed.isEmpty }
}

/// The node's view of the netmap (DESIGN.md section 7), built from the long-poll's answers:
/// a full map replaces everything, a delta changes or removes peers by id, a keepalive only
/// moves the version. Pure: no I/O; each `apply` says which peers appeared, changed or left.
public struct NetmapState: Sendable, Equatable, Codable {
    /// The version to send as the next `sinceVersion` (0: none yet, ask for a full map).
    public private(set) var version: UInt64 = 0
    public private(set) var selfNode: NodeInfo?
    public private(set) var peers: [Int64: NodeInfo] = [:]
    public private(set) var relays: [RelayInfo] = []
    public private(set) var domain: String?
    /// This node's packet filter (issue 11). nil: no policy (a full map without one, or a
    /// coordinator that predates policies); a delta without one leaves it as it was. Kept with
    /// the saved netmap, so a node restarted while the coordinator is away still enforces it.
    public private(set) var packetFilter: PacketFilterMessage?
    /// The coordinator's `extra_records` for MagicDNS (a full map sets them, nil = none; a
    /// delta without them keeps them).
    public private(set) var extraRecords: DNSExtraRecords?
    /// True once a full map arrived (deltas before it are applied but cannot be complete).
    public private(set) var hasFullMap = false
    /// Peers the coordinator says still exist but the access policy now hides from this node
    /// (`MapResponse.peersHidden`), with the entry the node last had for each: `meshctl
    /// status` lists them as absent instead of forgetting them. Never configured as peers;
    /// at most `MapResponse.maxHiddenPeers`; ids the node never saw are ignored (it learns
    /// nothing new about them).
    public private(set) var hiddenPeers: [Int64: NodeInfo] = [:]

    public init() {}

    enum CodingKeys: String, CodingKey {
        case version, selfNode, peers, relays, domain, packetFilter, hasFullMap, hiddenPeers, extraRecords
    }

    /// Reads netmaps saved before `hiddenPeers` existed too.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decode(UInt64.self, forKey: .version)
        selfNode = try c.decodeIfPresent(NodeInfo.self, forKey: .selfNode)
        peers = try c.decode([Int64: NodeInfo].self, forKey: .peers)
        relays = try c.decode([RelayInfo].self, forKey: .relays)
        domain = try c.decodeIfPresent(String.self, forKey: .domain)
        packetFilter = try c.decodeIfPresent(PacketFilterMessage.self, forKey: .packetFilter)
        extraRecords = try c.decodeIfPresent(DNSExtraRecords.self, forKey: .extraRecords)
        hasFullMap = try c.decode(Bool.self, forKey: .hasFullMap)
        let hidden = try c.decodeIfPresent([Int64: NodeInfo].self, forKey: .hiddenPeers) ?? [:]
        hiddenPeers = hidden.count <= MapResponse.maxHiddenPeers ? hidden : [:]
    }

    /// Hidden peers sorted by name (then id), for display.
    public var sortedHiddenPeers: [NodeInfo] {
        hiddenPeers.values.sorted { ($0.name, $0.id) < ($1.name, $1.id) }
    }

    /// Peers sorted by name (then id), for display.
    public var sortedPeers: [NodeInfo] {
        peers.values.sorted { ($0.name, $0.id) < ($1.name, $1.id) }
    }

    /// The `sinceVersion` for the next map request: nil asks for a full map.
    public var sinceVersion: UInt64? { hasFullMap && version > 0 ? version : nil }

    @discardableResult
    public mutating func apply(_ response: MapResponse) -> PeerDiff {
        switch response.kind {
        case .keepAlive:
            if hasFullMap { version = max(version, response.version) }
            return PeerDiff()
        case .full:
            if let me = response.selfNode { selfNode = me }
            if let r = response.relays { relays = r }
            if let d = response.domain { domain = d }
            packetFilter = response.packetFilter
            extraRecords = response.extraRecords
            let selfID = selfNode?.id
            var next: [Int64: NodeInfo] = [:]
            for p in response.peers ?? [] where p.id != selfID { next[p.id] = p }
            var diff = PeerDiff()
            for (id, p) in next {
                if let old = peers[id] {
                    if old != p { diff.changed.append(PeerChange(old: old, new: p)) }
                } else {
                    diff.added.append(p)
                }
            }
            for (id, old) in peers where next[id] == nil { diff.removed.append(old) }
            var hidden: [Int64: NodeInfo] = [:]
            for id in (response.peersHidden ?? []).prefix(MapResponse.maxHiddenPeers) where next[id] == nil && id != selfID {
                if let known = peers[id] ?? hiddenPeers[id] { hidden[id] = known }
            }
            hiddenPeers = hidden
            peers = next
            version = response.version
            hasFullMap = true
            return diff.sorted()
        case .delta:
            if let me = response.selfNode { selfNode = me }
            if let r = response.relays { relays = r }
            if let d = response.domain { domain = d }
            if let f = response.packetFilter { packetFilter = f }
            if let e = response.extraRecords { extraRecords = e }
            let selfID = selfNode?.id
            var diff = PeerDiff()
            let hiddenIDs = Set((response.peersHidden ?? []).prefix(MapResponse.maxHiddenPeers))
            let removedIDs = Set(response.peersRemoved ?? []).union(hiddenIDs)
            for p in response.peersChanged ?? [] where p.id != selfID && !removedIDs.contains(p.id) {
                if let old = peers[p.id] {
                    if old != p { diff.changed.append(PeerChange(old: old, new: p)) }
                } else {
                    diff.added.append(p)
                }
                peers[p.id] = p
                hiddenPeers[p.id] = nil
            }
            // In id order, so which ones the bound keeps does not depend on hashing.
            for id in removedIDs.sorted() {
                let old = peers.removeValue(forKey: id)
                if let old { diff.removed.append(old) }
                if hiddenIDs.contains(id), id != selfID, let known = old ?? hiddenPeers[id],
                   hiddenPeers[id] != nil || hiddenPeers.count < MapResponse.maxHiddenPeers {
                    hiddenPeers[id] = known
                } else {
                    hiddenPeers[id] = nil
                }
            }
            version = max(version, response.version)
            return diff.sorted()
        }
    }

    /// This map as a new run starts from it (loaded from the state directory): peers, relays
    /// and domain stay, so the node reaches its peers before the coordinator answers (or while
    /// it is down), but the next request asks for a full map, which replaces them.
    public func resumed() -> NetmapState {
        var next = self
        next.hasFullMap = false
        return next
    }

    /// Whether `other` holds the same peers, hidden peers, relays, own entry, domain and packet filter (the
    /// version aside): keepalives move only the version, which is not worth writing down.
    public func sameContent(as other: NetmapState) -> Bool {
        peers == other.peers && relays == other.relays && selfNode == other.selfNode && domain == other.domain
            && packetFilter == other.packetFilter && hiddenPeers == other.hiddenPeers
            && extraRecords == other.extraRecords
    }

    /// Forgets everything (the node was removed or logged out); every known peer is removed.
    @discardableResult
    public mutating func reset() -> PeerDiff {
        let diff = PeerDiff(removed: Array(peers.values)).sorted()
        self = NetmapState()
        return diff
    }
}

extension PeerDiff {
    func sorted() -> PeerDiff {
        PeerDiff(added: added.sorted { $0.id < $1.id },
                 changed: changed.sorted { $0.new.id < $1.new.id },
                 removed: removed.sorted { $0.id < $1.id })
    }
}
