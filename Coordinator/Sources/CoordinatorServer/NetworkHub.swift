import CoordinatorStore
import MeshPolicy
import MeshWire
import Synchronization

/// The in-memory netmap and change fan-out.
///
/// The store tells the hub about every committed node change, in version order (`apply`).
/// The hub keeps the current node rows, a change log of (version, node id) sorted by version,
/// and the continuations of waiting long-polls. A change only bumps the version, appends one log
/// entry and resumes the waiters: it computes no netmap. Each woken poll then asks for its own
/// delta, lazily, from the log entries newer than the version it holds (a binary search plus
/// the touched nodes), so one change costs O(waiters) wake-ups and O(1) work per waiter.
///
/// The log is compacted to "latest entry per node" when it grows; that keeps every delta
/// correct, because a delta since V is exactly the nodes whose last change is newer than V.
///
/// With an access policy (`setPolicy`), each node's map lists only the peers its compiled
/// filter makes visible and carries its packet filter. A policy change, or a node change that
/// can change filters (join, leave, tags, user), recompiles and stamps the nodes whose view
/// changed with the new version; waking the polls is the same fan-out as for any change.
public final class NetworkHub: Sendable {
    struct Waiter {
        var continuation: CheckedContinuation<Void, Never>
    }

    struct State {
        var version: UInt64 = 0
        var nodes: [Int64: NodeRecord] = [:]
        /// Node key → id, for nodes that are not removed.
        var byKey: [String: Int64] = [:]
        var logVersions: [UInt64] = []
        var logIDs: [Int64] = []
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var cancelled: Set<UInt64> = []
        var nextWaiterID: UInt64 = 0
        var shutDown = false
        /// Open map polls per node and when each node last did anything (Unix seconds).
        var activePolls: [Int64: Int] = [:]
        var lastActivity: [Int64: Int64] = [:]
        /// Nodes whose last poll ended because the client went away, and when (Unix seconds);
        /// cleared by the node's next poll or request. At most one entry per node.
        var goneAt: [Int64: Int64] = [:]
        /// The version at which the set of active node keys last changed (a node became
        /// active or inactive, or an active node's key changed). At start: the loaded version,
        /// since when the set last changed before is not known.
        var activeKeysVersion: UInt64 = 0
        /// The running access policy compiled per node (see `HubPolicy`).
        var policy = HubPolicy()
    }

    let state = Mutex(State())

    public init(nodes: [NodeRecord], version: UInt64) {
        state.withLock { s in
            s.version = version
            for n in nodes.sorted(by: { $0.version < $1.version }) {
                s.nodes[n.id] = n
                if n.removedAt == nil { s.byKey[n.nodeKey] = n.id }
                s.logVersions.append(n.version)
                s.logIDs.append(n.id)
            }
            s.version = max(version, s.logVersions.last ?? 0)
            s.activeKeysVersion = s.version
        }
    }

    public var version: UInt64 { state.withLock { $0.version } }
    public var waitingCount: Int { state.withLock { $0.waiters.count } }

    /// A committed change (called by the store's observer, in version order).
    public func apply(_ node: NodeRecord) {
        let toResume: [CheckedContinuation<Void, Never>] = state.withLock { s in
            let oldActiveKey = s.nodes[node.id].flatMap { $0.isActive ? $0.nodeKey : nil }
            if oldActiveKey != (node.isActive ? node.nodeKey : nil) { s.activeKeysVersion = max(s.activeKeysVersion, node.version) }
            if let old = s.nodes[node.id], old.nodeKey != node.nodeKey || node.removedAt != nil {
                if s.byKey[old.nodeKey] == node.id { s.byKey[old.nodeKey] = nil }
            }
            let affectsPolicy = s.policy.isSet && HubPolicy.affectsPolicy(old: s.nodes[node.id], new: node)
            let departed: Set<Int64> = s.nodes[node.id]?.isActive == true && !node.isActive ? [node.id] : []
            var n = node
            // last seen is tracked here between persisted updates; never go backwards.
            if let old = s.nodes[node.id], let a = old.lastSeen, a > (n.lastSeen ?? 0) { n.lastSeen = a }
            s.nodes[node.id] = n
            if node.removedAt == nil { s.byKey[node.nodeKey] = node.id } else { s.goneAt[node.id] = nil }
            if node.version > s.version { s.version = node.version }
            s.logVersions.append(node.version)
            s.logIDs.append(node.id)
            if s.logVersions.count > 2 * s.nodes.count + 1024 { Self.compact(&s) }
            if affectsPolicy { s.policy.recompile(nodes: s.nodes, at: node.version, departed: departed) }
            let w = Array(s.waiters.values)
            s.waiters.removeAll(keepingCapacity: true)
            return w
        }
        for c in toResume { c.resume() }
    }

    static func compact(_ s: inout State) {
        let sorted = s.nodes.values.sorted { $0.version < $1.version }
        s.logVersions = sorted.map(\.version)
        s.logIDs = sorted.map(\.id)
    }

    public func node(id: Int64) -> NodeRecord? { state.withLock { $0.nodes[id] } }

    /// The node (active or expired, not removed) holding this key.
    public func node(key: String) -> NodeRecord? {
        state.withLock { s in s.byKey[key].flatMap { s.nodes[$0] } }
    }

    /// For a remote relay: the current version, and the key of every active node when that
    /// set may differ from the one at `since` (nil `since`, a set change after it, or a
    /// `since` from the future: a restored database). nil keys: the set at `since` still holds.
    /// Building the list is O(nodes), so it happens once per set change and relay, never for
    /// the netmap changes (endpoints, presence) that do not touch the set.
    public func activeNodeKeys(changedSince since: UInt64?) -> (version: UInt64, keys: [String]?) {
        state.withLock { s in
            if let since, since <= s.version, s.activeKeysVersion <= since { return (s.version, nil) }
            var keys: [String] = []
            keys.reserveCapacity(s.nodes.count)
            for n in s.nodes.values where n.isActive { keys.append(n.nodeKey) }
            keys.sort()
            return (s.version, keys)
        }
    }

    public func allNodes() -> [NodeRecord] { state.withLock { Array($0.nodes.values) }.sorted { $0.id < $1.id } }

    public struct MapData: Sendable {
        public var full: Bool
        public var version: UInt64
        public var selfNode: NodeRecord?
        public var peers: [NodeRecord]
        public var removed: [Int64]
        /// Full map: the node's filter (nil: no policy). Delta: only when it changed.
        public var packetFilter: PacketFilterMessage? = nil
        /// Peers the node was shown that the policy now hides (`MapResponse.peersHidden`): in
        /// a delta those of `removed` that were hidden, in a full map all the hub counts.
        public var hidden: [Int64] = []
        public var isEmpty: Bool { !full && selfNode == nil && peers.isEmpty && removed.isEmpty && packetFilter == nil }
    }

    /// Everything an active node sees: all other active nodes (with a policy: those it may
    /// talk to or that may talk to it) and its packet filter.
    public func fullMap(for nodeID: Int64) -> MapData {
        state.withLock { s in Self.fullMap(&s, nodeID) }
    }

    private static func fullMap(_ s: inout State, _ nodeID: Int64) -> MapData {
        let view = s.policy.entry(nodeID).current
        var peers: [NodeRecord] = []
        if let visible = view.visible {
            peers.reserveCapacity(visible.count)
            for id in visible where id != nodeID { if let n = s.nodes[id], n.isActive { peers.append(n) } }
        } else {
            peers.reserveCapacity(s.nodes.count)
            for n in s.nodes.values where n.id != nodeID && n.isActive { peers.append(n) }
            peers.sort { $0.id < $1.id }
        }
        return MapData(full: true, version: s.version, selfNode: s.nodes[nodeID], peers: peers, removed: [],
                       packetFilter: view.message, hidden: view.hidden.filter { s.nodes[$0]?.isActive == true })
    }

    /// What changed for `nodeID` since `since`: peers changed or added, peers gone (expired,
    /// logged out or removed, or no longer visible under the policy), the node's own entry when
    /// it changed after `selfSince`, and its packet filter when that changed. A node whose view
    /// changed twice since `since`, or that moves between "no policy" and a policy, gets a
    /// full map instead.
    public func delta(for nodeID: Int64, since: UInt64, selfSince: UInt64) -> MapData {
        state.withLock { s in
            let entry = s.policy.entry(nodeID)
            let viewChanged = entry.changedAt > since
            if viewChanged, entry.previousChangedAt > since || entry.previous.visible == nil || entry.current.visible == nil {
                return Self.fullMap(&s, nodeID)
            }
            let then = viewChanged ? entry.previous : entry.current
            let now = entry.current
            var lo = 0, hi = s.logVersions.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if s.logVersions[mid] <= since { lo = mid + 1 } else { hi = mid }
            }
            var seen = Set<Int64>()
            var changed: [NodeRecord] = []
            var removed: [Int64] = []
            var selfNode: NodeRecord?
            for i in lo..<s.logVersions.count {
                let id = s.logIDs[i]
                guard seen.insert(id).inserted, let n = s.nodes[id] else { continue }
                if id == nodeID {
                    if n.version > selfSince { selfNode = n }
                } else if n.isActive && now.visible.admits(id) {
                    changed.append(n)
                } else if now.hidden.sortedContains(id) {
                    // Hidden now: news only if it was shown until this change (nothing of a
                    // hidden peer's own changes).
                    if then.visible.admits(id) { removed.append(id) }
                } else if then.visible.admits(id) || now.visible.admits(id) || then.hidden.sortedContains(id) {
                    removed.append(id)
                }
            }
            var packetFilter: PacketFilterMessage?
            if viewChanged, let before = then.visible, let after = now.visible {
                // Both sorted: one merge walk finds who appeared and who went.
                var i = 0, j = 0
                while i < before.count || j < after.count {
                    if j == after.count || (i < before.count && before[i] < after[j]) {
                        if before[i] != nodeID, seen.insert(before[i]).inserted { removed.append(before[i]) }
                        i += 1
                    } else if i == before.count || after[j] < before[i] {
                        if after[j] != nodeID, seen.insert(after[j]).inserted, let n = s.nodes[after[j]], n.isActive { changed.append(n) }
                        j += 1
                    } else {
                        i += 1
                        j += 1
                    }
                }
                if then.message != now.message { packetFilter = now.message ?? .allowAll }
            }
            if viewChanged {
                // Peers hidden until this change that are neither hidden nor shown now: gone.
                for id in then.hidden where !now.hidden.sortedContains(id) && !now.visible.admits(id) {
                    if seen.insert(id).inserted { removed.append(id) }
                }
            }
            changed.sort { $0.id < $1.id }
            removed.sort()
            let hidden = now.hidden.isEmpty ? [] : removed.filter { now.hidden.sortedContains($0) }
            return MapData(full: false, version: s.version, selfNode: selfNode, peers: changed, removed: removed,
                           packetFilter: packetFilter, hidden: hidden)
        }
    }

    /// Returns when the version exceeds `since`, after `timeout`, or at shutdown.
    /// True when something changed.
    public func waitForChange(after since: UInt64, timeout: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.waitNewer(than: since); return true }
            group.addTask {
                do { try await Task.sleep(for: timeout) } catch { return true }
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first && self.version > since
        }
    }

    private func waitNewer(than since: UInt64) async {
        let id = state.withLock { s -> UInt64 in s.nextWaiterID += 1; return s.nextWaiterID }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.version > since || s.shutDown || s.cancelled.remove(id) != nil { return true }
                    s.waiters[id] = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            let c = state.withLock { s -> CheckedContinuation<Void, Never>? in
                if let c = s.waiters.removeValue(forKey: id) { return c }
                s.cancelled.insert(id)
                return nil
            }
            c?.resume()
        }
        // A cancellation that raced with a wake-up leaves a stale id behind; drop it.
        state.withLock { s in _ = s.cancelled.remove(id) }
    }

    /// Releases every waiting poll (they answer "no change") and makes new waits return at once.
    public func shutdown() {
        let w: [CheckedContinuation<Void, Never>] = state.withLock { s in
            s.shutDown = true
            let w = Array(s.waiters.values)
            s.waiters.removeAll()
            return w
        }
        for c in w { c.resume() }
    }

    public var isShutDown: Bool { state.withLock { $0.shutDown } }

    // MARK: Policy

    /// Puts an accepted policy in force as of netmap version `version` (the store's bump for
    /// it; called inside the store's writer, so in version order with node changes), and wakes
    /// every waiting poll: the nodes whose view changed get it in their next answer, the
    /// others wait on. `version` 0: the policy was already in force (loaded at start).
    /// Returns the nodes whose filter or visibility changed (nil: it does not bind).
    @discardableResult
    public func setPolicy(_ document: PolicyDocument, policyVersion: Int64, users: Set<String>, version: UInt64) -> Set<Int64>? {
        let (changed, toResume): (Set<Int64>?, [CheckedContinuation<Void, Never>]) = state.withLock { s in
            var next = s.policy
            next.document = document
            next.policyVersion = policyVersion
            next.users = users
            guard let changed = next.recompile(nodes: s.nodes, at: version, previouslySet: s.policy.isSet) else { return (nil, []) }
            s.policy = next
            guard version > 0 else { return (changed, []) }
            if version > s.version { s.version = version }
            let w = Array(s.waiters.values)
            s.waiters.removeAll(keepingCapacity: true)
            return (changed, w)
        }
        for c in toResume { c.resume() }
        return changed
    }

    /// The users table changed (a policy may name only existing users).
    public func setUsers(_ users: Set<String>) {
        state.withLock { $0.policy.users = users }
    }

    /// The running policy's version (nil: none set, the mesh allows all).
    public var policyVersion: Int64? { state.withLock { $0.policy.policyVersion } }

    /// What a new policy is checked against: the active nodes and the users.
    public func policyDirectory() -> PolicyDirectory {
        state.withLock { s in HubPolicy.directory(nodes: s.nodes, users: s.policy.users) }
    }

    /// The compiled filter of a node under the running policy (nil: none, or not compiled).
    public func compiledFilter(for nodeID: Int64) -> NodeFilter? {
        state.withLock { $0.policy.compilation?.filters[nodeID] }
    }

    // MARK: Presence

    /// How long after its connection went away (with no poll open since) a node is marked
    /// offline. A node re-opens its long-poll within milliseconds of each answer, and an
    /// answered poll never counts as gone, so the normal poll cycle never comes near this;
    /// the grace covers a meshd restart (a new process polls again within a second or two)
    /// and a client that reconnects after a reset. 5 s, plus up to 1 s of second rounding
    /// and 1 s of sweep interval, keeps a killed peer's "offline" well under 15 s.
    public static let disconnectGraceSeconds: Int64 = 5

    /// A map poll of `nodeID` began; returns whether the node was marked offline until now.
    public func pollStarted(_ nodeID: Int64, now: Int64) -> Bool {
        state.withLock { s in
            s.activePolls[nodeID, default: 0] += 1
            s.goneAt[nodeID] = nil
            s.lastActivity[nodeID] = now
            s.nodes[nodeID]?.lastSeen = now
            return s.nodes[nodeID].map { !$0.online } ?? false
        }
    }

    /// A map poll of `nodeID` ended; `clientGone`: because the node's connection went away
    /// (rather than with an answer), which makes the node offline after
    /// `disconnectGraceSeconds` unless it polls again.
    public func pollEnded(_ nodeID: Int64, now: Int64, clientGone: Bool = false) {
        state.withLock { s in
            let n = (s.activePolls[nodeID] ?? 1) - 1
            s.activePolls[nodeID] = n > 0 ? n : nil
            if clientGone, s.nodes[nodeID] != nil { s.goneAt[nodeID] = now }
            s.lastActivity[nodeID] = now
            s.nodes[nodeID]?.lastSeen = now
        }
    }

    public func touched(_ nodeID: Int64, now: Int64) {
        state.withLock { s in
            s.goneAt[nodeID] = nil
            s.lastActivity[nodeID] = now
            s.nodes[nodeID]?.lastSeen = now
        }
    }

    /// Nodes marked online with no poll open that either went away (their last poll's
    /// connection closed) `disconnectGrace` seconds ago or more, or have made no request for
    /// `offlineAfter` seconds (counting from `startedAt` for nodes not seen since the
    /// coordinator started); with the last time each was seen.
    public func staleOnlineNodes(now: Int64, offlineAfter: Int64, startedAt: Int64,
                                 disconnectGrace: Int64 = NetworkHub.disconnectGraceSeconds) -> [(Int64, Int64)] {
        state.withLock { s in
            var out: [(Int64, Int64)] = []
            for n in s.nodes.values where n.online && n.isActive && s.activePolls[n.id] == nil {
                if let gone = s.goneAt[n.id], now.subtractingReportingOverflow(gone).partialValue >= disconnectGrace {
                    out.append((n.id, gone))
                    continue
                }
                let last = max(s.lastActivity[n.id] ?? startedAt, startedAt)
                if now - last >= offlineAfter { out.append((n.id, s.lastActivity[n.id] ?? n.lastSeen ?? last)) }
            }
            return out.sorted { $0.0 < $1.0 }
        }
    }

    /// Last-seen times of nodes active since the coordinator started (to persist now and then).
    public func lastSeenTimes() -> [(Int64, Int64)] {
        state.withLock { s in
            s.lastActivity.map { id, t in (id, s.activePolls[id] != nil ? max(t, s.nodes[id]?.lastSeen ?? t) : t) }
        }
    }

    public var onlineCount: Int { state.withLock { s in s.nodes.values.filter { $0.online && $0.isActive }.count } }
    public var activeCount: Int { state.withLock { s in s.nodes.values.filter { $0.isActive }.count } }
}
