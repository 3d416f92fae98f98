import MeshBase

/// A connection as the filter tracks it, from this node's side: the remote end, the local end
/// and the protocol. Fixed size (no heap storage), so lookups on the packet path never
/// allocate. IPv4 addresses sit in `remoteLow`/`localLow` with the high halves zero.
package struct FlowKey: Hashable, Sendable {
    var remoteHigh: UInt64
    var remoteLow: UInt64
    var localHigh: UInt64
    var localLow: UInt64
    var remotePort: UInt16
    var localPort: UInt16
    var proto: UInt8
    var isV6: Bool

    package init(remote: IPAddress, local: IPAddress, remotePort: UInt16, localPort: UInt16, proto: UInt8) {
        switch remote {
        case .v4(let a): remoteHigh = 0; remoteLow = UInt64(a); isV6 = false
        case .v6(let h, let l): remoteHigh = h; remoteLow = l; isV6 = true
        }
        switch local {
        case .v4(let a): localHigh = 0; localLow = UInt64(a)
        case .v6(let h, let l): localHigh = h; localLow = l
        }
        self.remotePort = remotePort
        self.localPort = localPort
        self.proto = proto
    }

    package var remote: IPAddress { isV6 ? .v6(high: remoteHigh, low: remoteLow) : .v4(UInt32(truncatingIfNeeded: remoteLow)) }
    package var local: IPAddress { isV6 ? .v6(high: localHigh, low: localLow) : .v4(UInt32(truncatingIfNeeded: localLow)) }

    /// A multiplicative mix keyed by a secret seed, cheaper than `Hasher` (SipHash). A peer
    /// chooses its source ports, so an unkeyed hash would let it pick keys that share one probe
    /// run and make every lookup walk the whole table; with the seed unknown it cannot.
    @inline(__always)
    func slotHash(seed: UInt64) -> UInt64 {
        var h = (remoteHigh ^ seed) &* 0x9E37_79B9_7F4A_7C15
        h = (h ^ remoteLow) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ localHigh) &* 0x94D0_49BB_1331_11EB
        h = (h ^ localLow) &* 0x9E37_79B9_7F4A_7C15
        h = (h ^ (UInt64(remotePort) << 24 | UInt64(localPort) << 8 | UInt64(proto))) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 31) ^ (seed >> 7 | seed << 57)) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 29)
    }
}

/// What the filter knows about one flow.
package struct FlowState: Sendable, Equatable {
    package var lastSeen: MonotonicTime
    /// Opened by a packet from a peer (checked against the rules) rather than by us; only
    /// these are re-checked when the rules change. It also decides the flow's share of the
    /// table (see `FlowTable`).
    package var inbound: Bool
    /// The rules no longer allow it: packets on it are dropped until it ages out.
    package var cut: Bool
    /// A TCP FIN or RST was seen: it ages out sooner.
    package var closing: Bool

    package init(lastSeen: MonotonicTime, inbound: Bool, cut: Bool, closing: Bool) {
        self.lastSeen = lastSeen
        self.inbound = inbound
        self.cut = cut
        self.closing = closing
    }
}

/// A bounded flow table: open addressing (linear probing, backward-shift deletion, no
/// tombstones) over preallocated arrays, and two intrusive LRU lists, one per share.
///
/// Flows peers open and flows this node opens have separate shares, and a full share makes
/// room by dropping its own least recently used flow. So a peer that opens flows as fast as
/// it can (new source ports to an allowed UDP port) only ever evicts peer-opened flows, which
/// the filter can judge again by the rules, and never the flows of our own connections, whose
/// replies the rules would refuse without them. Nothing is allocated after `init`.
package struct FlowTable: Sendable {
    /// Entries `0..<inboundCapacity` hold peer-opened flows, the rest our own.
    package let inboundCapacity: Int
    package let outboundCapacity: Int
    private let seed: UInt64
    private var keys: [FlowKey]
    package private(set) var states: [FlowState]
    private var newer: [Int32]
    private var older: [Int32]
    private var slots: [Int32]
    private let slotMask: Int
    /// Per share (0 inbound, 1 outbound): most and least recently used entries (-1 when
    /// empty) and the chain of free entries (through `older`).
    private var newest: (Int32, Int32) = (-1, -1)
    private var oldest: (Int32, Int32) = (-1, -1)
    private var freeList: (Int32, Int32) = (-1, -1)
    package private(set) var inboundCount = 0
    package private(set) var outboundCount = 0

    /// Each share holds 1...2^23 flows (what the caller asks, clamped); `seed` keys the hash.
    package init(inboundCapacity: Int, outboundCapacity: Int, seed: UInt64) {
        let inbound = max(1, min(inboundCapacity, 1 << 23))
        let outbound = max(1, min(outboundCapacity, 1 << 23))
        self.inboundCapacity = inbound
        self.outboundCapacity = outbound
        self.seed = seed
        let total = inbound + outbound
        var slotCount = 2
        while slotCount < total * 2 { slotCount <<= 1 }
        slotMask = slotCount - 1
        let zeroKey = FlowKey(remote: .v4(0), local: .v4(0), remotePort: 0, localPort: 0, proto: 0)
        keys = [FlowKey](repeating: zeroKey, count: total)
        states = [FlowState](repeating: FlowState(lastSeen: MonotonicTime(nanoseconds: 0), inbound: false, cut: false, closing: false),
                             count: total)
        newer = [Int32](repeating: -1, count: total)
        older = (0..<total).map { i in i + 1 == inbound || i + 1 == total ? -1 : Int32(i + 1) }
        slots = [Int32](repeating: -1, count: slotCount)
        freeList = (0, Int32(inbound))
    }

    package var count: Int { inboundCount + outboundCount }

    package func key(_ index: Int32) -> FlowKey { keys[Int(index)] }

    @inline(__always)
    private func home(_ key: FlowKey) -> Int { Int(truncatingIfNeeded: key.slotHash(seed: seed)) & slotMask }

    @inline(__always)
    private func isInbound(_ e: Int32) -> Bool { Int(e) < inboundCapacity }

    @inline(__always)
    package func find(_ key: FlowKey) -> Int32 {
        var s = home(key)
        while true {
            let e = slots[s]
            if e < 0 { return -1 }
            if keys[Int(e)] == key { return e }
            s = (s + 1) & slotMask
        }
    }

    /// Adds a flow (the caller checked it is absent) to the share `state.inbound` names.
    /// `evicted` says whether that share was full and lost its least recently used flow.
    @discardableResult
    package mutating func insert(_ key: FlowKey, _ state: FlowState) -> (index: Int32, evicted: Bool) {
        var evicted = false
        var free = state.inbound ? freeList.0 : freeList.1
        if free < 0 {
            remove(state.inbound ? oldest.0 : oldest.1)
            evicted = true
            free = state.inbound ? freeList.0 : freeList.1
        }
        let e = free
        if state.inbound { freeList.0 = older[Int(e)] } else { freeList.1 = older[Int(e)] }
        keys[Int(e)] = key
        states[Int(e)] = state
        var s = home(key)
        while slots[s] >= 0 { s = (s + 1) & slotMask }
        slots[s] = e
        linkNewest(e)
        if state.inbound { inboundCount += 1 } else { outboundCount += 1 }
        return (e, evicted)
    }

    /// Marks the flow used now: it moves to the front of its share's LRU list.
    @inline(__always)
    package mutating func touch(_ e: Int32, now: MonotonicTime) {
        states[Int(e)].lastSeen = now
        guard e != (isInbound(e) ? newest.0 : newest.1) else { return }
        unlink(e)
        linkNewest(e)
    }

    /// Changes a flow's flags; a change of `inbound` (who opened it) is not allowed here: it
    /// moves the flow to the other share, so remove and insert it instead.
    package mutating func update(_ e: Int32, _ body: (inout FlowState) -> Void) {
        let inbound = states[Int(e)].inbound
        body(&states[Int(e)])
        states[Int(e)].inbound = inbound
    }

    package mutating func remove(_ e: Int32) {
        guard e >= 0 else { return }
        var s = home(keys[Int(e)])
        while slots[s] != e { s = (s + 1) & slotMask }
        // Backward-shift: pull later members of the probe run into the hole.
        var hole = s
        var j = s
        while true {
            j = (j + 1) & slotMask
            let other = slots[j]
            if other < 0 { break }
            // `other` may move to `hole` if its home is not cyclically in (hole, j].
            let distanceToHome = (j - home(keys[Int(other)])) & slotMask
            let distanceToHole = (j - hole) & slotMask
            if distanceToHome >= distanceToHole {
                slots[hole] = other
                hole = j
            }
        }
        slots[hole] = -1
        unlink(e)
        newer[Int(e)] = -1
        if isInbound(e) {
            older[Int(e)] = freeList.0
            freeList.0 = e
            inboundCount -= 1
        } else {
            older[Int(e)] = freeList.1
            freeList.1 = e
            outboundCount -= 1
        }
    }

    /// The least recently used flow of a share, or -1.
    package func leastRecentlyUsed(inbound: Bool) -> Int32 { inbound ? oldest.0 : oldest.1 }

    /// Entries of one share in use, newest first (for re-checking peers' flows when the rules
    /// change).
    package func forEachIndex(inbound: Bool, _ body: (Int32) -> Void) {
        var e = inbound ? newest.0 : newest.1
        while e >= 0 {
            let next = older[Int(e)]
            body(e)
            e = next
        }
    }

    private mutating func linkNewest(_ e: Int32) {
        newer[Int(e)] = -1
        if isInbound(e) {
            older[Int(e)] = newest.0
            if newest.0 >= 0 { newer[Int(newest.0)] = e }
            newest.0 = e
            if oldest.0 < 0 { oldest.0 = e }
        } else {
            older[Int(e)] = newest.1
            if newest.1 >= 0 { newer[Int(newest.1)] = e }
            newest.1 = e
            if oldest.1 < 0 { oldest.1 = e }
        }
    }

    private mutating func unlink(_ e: Int32) {
        let n = newer[Int(e)], o = older[Int(e)]
        if isInbound(e) {
            if n >= 0 { older[Int(n)] = o } else { newest.0 = o }
            if o >= 0 { newer[Int(o)] = n } else { oldest.0 = n }
        } else {
            if n >= 0 { older[Int(n)] = o } else { newest.1 = o }
            if o >= 0 { newer[Int(o)] = n } else { oldest.1 = n }
        }
    }
}
