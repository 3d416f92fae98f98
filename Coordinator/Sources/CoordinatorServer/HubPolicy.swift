import CoordinatorStore
import MeshBase
import MeshPolicy
import MeshWire

/// The access policy as the netmap fan-out needs it: the running document, the last full
/// compilation, and per node what its map said before and after its last filter change, so a
/// delta can add and remove exactly the peers whose visibility changed and carry the packet
/// filter only when it changed.
///
/// Without a document (no policy ever set) every node sees every peer and gets no filter: the
/// mesh's behaviour before policies. Lives inside `NetworkHub`'s lock.
struct HubPolicy {
    /// One node's view: `visible` is the sorted peer ids its map may list (nil: every peer,
    /// no policy then), `message` its packet filter (nil: none), `hidden` the sorted ids of
    /// active peers the node was shown before that the policy now hides from it (its map says
    /// so, and the node lists them as absent rather than forgetting them), at most
    /// `MapResponse.maxHiddenPeers`.
    struct View: Equatable {
        var visible: [Int64]?
        var message: PacketFilterMessage?
        var hidden: [Int64] = []
    }

    /// A node's current view, the one before it, and the netmap versions at which each began.
    struct Entry {
        var changedAt: UInt64
        var current: View
        var previousChangedAt: UInt64
        var previous: View
    }

    var document: PolicyDocument?
    var policyVersion: Int64?
    var users: Set<String> = []
    var compilation: PolicyCompilation?
    var entries: [Int64: Entry] = [:]

    var isSet: Bool { document != nil }

    /// The view of a node; a node the compilation does not know (while a policy is set) sees
    /// nothing and accepts nothing.
    func entry(_ id: Int64) -> Entry { entries[id] ?? defaultEntry(policySet: isSet) }

    func defaultEntry(policySet: Bool) -> Entry {
        let view = policySet ? View(visible: [], message: PacketFilterMessage(enforced: true, rules: [], policyVersion: policyVersion))
                         : View(visible: nil, message: nil)
        return Entry(changedAt: 0, current: view, previousChangedAt: 0, previous: view)
    }

    /// Recompiles against the active nodes and records, for each node whose filter or
    /// visibility changed, its new view as of `version`. Returns the nodes that changed (nil:
    /// the document no longer binds, e.g. it names a user that is gone; the old compilation
    /// stays in force).
    /// `previouslySet`: whether a policy was in force before this call (a node the old
    /// compilation did not know saw every peer then if none was). `departed`: the nodes that
    /// stopped being active with this change, to be taken out of every hidden list (their
    /// holders' maps then say they are gone); nil checks every hidden list (a policy change).
    /// The returned set lists nodes whose filter or visibility changed; a node whose hidden
    /// list only lost a departed peer gets a new view too but is not counted.
    @discardableResult
    mutating func recompile(nodes: [Int64: NodeRecord], at version: UInt64, previouslySet: Bool? = nil,
                            departed: Set<Int64>? = nil) -> Set<Int64>? {
        guard let document else { return [] }
        let directory = Self.directory(nodes: nodes, users: users)
        guard let policy = try? Policy(document: document, directory: directory) else {
            // The old compilation stays, but a peer that left is gone from hidden lists all the same.
            dropDeparted(departed, nodes: nodes, at: version, keeping: [])
            return nil
        }
        let fresh = policy.compile()
        let changed = PolicyCompilation.changedNodes(from: compilation, to: fresh)
        let activeIDs = directory.nodes.map(\.id)
        for id in changed {
            let old = entries[id] ?? defaultEntry(policySet: previouslySet ?? isSet)
            var view: View
            if let filter = fresh.filters[id] {
                view = View(visible: filter.visiblePeers, message: Self.message(filter, policyVersion: policyVersion))
            } else {
                view = View(visible: [], message: PacketFilterMessage(enforced: true, rules: [], policyVersion: policyVersion))
            }
            view.hidden = Self.hidden(before: old.current, visible: view.visible ?? [], node: id, nodes: nodes,
                                      activeIDs: activeIDs)
            entries[id] = Entry(changedAt: version, current: view, previousChangedAt: old.changedAt, previous: old.current)
        }
        dropDeparted(departed, nodes: nodes, at: version, keeping: changed)
        compilation = fresh
        return changed
    }

    /// Takes peers that are no longer active out of the hidden lists that hold them (a new
    /// view as of `version` for each such node, except those in `keeping`, whose new view is
    /// already made). `departed` nil checks every list; empty checks none.
    mutating func dropDeparted(_ departed: Set<Int64>?, nodes: [Int64: NodeRecord], at version: UInt64,
                               keeping: Set<Int64>) {
        guard departed?.isEmpty != true else { return }
        for (id, entry) in entries where !keeping.contains(id) && !entry.current.hidden.isEmpty {
            let stale: Bool
            if let departed {
                stale = departed.contains { entry.current.hidden.sortedContains($0) }
            } else {
                stale = entry.current.hidden.contains { nodes[$0]?.isActive != true }
            }
            guard stale else { continue }
            var view = entry.current
            view.hidden.removeAll { nodes[$0]?.isActive != true }
            entries[id] = Entry(changedAt: version, current: view, previousChangedAt: entry.changedAt,
                                previous: entry.current)
        }
    }

    /// The peers a node's new view hides that it was shown before (in `before.visible`, or in
    /// `before.hidden`: still hidden), active ones only, sorted, at most
    /// `MapResponse.maxHiddenPeers`. `before.visible` nil (no policy before) stands for every
    /// active node; that walk stops at the bound, and is skipped when every active node stays
    /// visible, so the first policy costs no more than the visible lists themselves.
    static func hidden(before: View, visible: [Int64], node: Int64, nodes: [Int64: NodeRecord],
                       activeIDs: [Int64]) -> [Int64] {
        let bound = MapResponse.maxHiddenPeers
        var out: [Int64] = []
        func consider(_ id: Int64) {
            if id != node, !visible.sortedContains(id), nodes[id]?.isActive == true { out.append(id) }
        }
        guard let seen = before.visible else {
            let visibleOthers = visible.count - (visible.sortedContains(node) ? 1 : 0)
            let activeOthers = activeIDs.count - (activeIDs.sortedContains(node) ? 1 : 0)
            guard visibleOthers < activeOthers else { return [] }
            // Both sorted: a merge walk instead of a search per node.
            var j = 0
            for id in activeIDs where out.count < bound {
                while j < visible.count && visible[j] < id { j += 1 }
                if id != node, j == visible.count || visible[j] != id { out.append(id) }
            }
            return out
        }
        var i = 0, j = 0
        let held = before.hidden
        while (i < seen.count || j < held.count) && out.count < bound {
            if j == held.count || (i < seen.count && seen[i] < held[j]) {
                consider(seen[i]); i += 1
            } else if i == seen.count || held[j] < seen[i] {
                consider(held[j]); j += 1
            } else {
                consider(seen[i]); i += 1; j += 1
            }
        }
        return out
    }

    /// What the policy sees of the mesh: active nodes (by id) with their user, tags and
    /// overlay addresses; the users table plus the nodes' owners.
    static func directory(nodes: [Int64: NodeRecord], users: Set<String>) -> PolicyDirectory {
        let policyNodes = nodes.values.filter(\.isActive).sorted { $0.id < $1.id }.map(policyNode)
        return PolicyDirectory(nodes: policyNodes, users: users)
    }

    static func policyNode(_ n: NodeRecord) -> PolicyNode {
        PolicyNode(id: n.id, name: n.name, user: n.user, tags: Set(n.tags),
                   ipv4: try? IPAddress(n.ipv4), ipv6: try? IPAddress(n.ipv6))
    }

    /// A compiled filter in the netmap's text form: sources as the fewest CIDR prefixes,
    /// destinations as addresses, protocol numbers, inclusive port ranges.
    static func message(_ filter: NodeFilter, policyVersion: Int64?) -> PacketFilterMessage {
        PacketFilterMessage(enforced: true, rules: filter.rules.map { rule in
            PacketFilterMessage.Rule(sources: rule.sources.prefixes.map(\.description),
                                     destinations: rule.destinations.map(\.description),
                                     protocols: rule.protocols.members,
                                     ports: rule.ports.map { PacketFilterMessage.PortRange(first: $0.first, last: $0.last) })
        }, policyVersion: policyVersion)
    }

    /// Whether a node change can change any compiled filter: joining or leaving, or a change of
    /// tags or user (addresses never change).
    static func affectsPolicy(old: NodeRecord?, new: NodeRecord) -> Bool {
        guard let old else { return new.isActive }
        return old.isActive != new.isActive || old.tags != new.tags || old.user != new.user
    }
}

extension Array where Element == Int64 {
    /// Binary search in a sorted list of ids.
    func sortedContains(_ value: Int64) -> Bool {
        var low = 0, high = count
        while low < high {
            let mid = (low + high) >> 1
            if self[mid] < value { low = mid + 1 } else { high = mid }
        }
        return low < count && self[low] == value
    }
}

extension Optional where Wrapped == [Int64] {
    /// nil stands for every peer.
    func admits(_ id: Int64) -> Bool { self?.sortedContains(id) ?? true }
}
