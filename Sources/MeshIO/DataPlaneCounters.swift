import MeshPolicy
import Synchronization
import WireGuard

/// Counters the data plane threads bump and the local API reads. Atomics, so counting
/// costs no lock on the per-packet path.
public final class DataPlaneCounters: Sendable {
    public let receivedDatagrams = Atomic<Int>(0)
    public let notWireGuard = Atomic<Int>(0)
    public let oversized = Atomic<Int>(0)
    public let packetsToTunnel = Atomic<Int>(0)
    public let packetsFromTunnel = Atomic<Int>(0)
    /// Decrypted packets addressed to none of this node's overlay addresses (`LocalDestinations`).
    public let notForThisNode = Atomic<Int>(0)
    private let droppedByReason: [Counter]
    /// Decrypted packets the packet filter refused, by `FilterDropReason` (issue 11).
    private let filteredByReason: [Counter]
    /// Rejects (TCP RST, ICMP prohibited) sealed back to the sender of a refused packet.
    public let filterRejectsSent = Atomic<Int>(0)
    /// ICMP host unreachable written into the TUN for packets to overlay addresses no peer has
    /// (they are also counted as drops `noRoute`).
    public let noRouteAnswers = Atomic<Int>(0)

    /// Super-packets the TUN handed over and the segments they were split into (TSO/USO in the node).
    public let superPacketsFromTunnel = Atomic<Int>(0)
    public let segmentsSplit = Atomic<Int>(0)
    /// TUN reads that could not be used: a virtio header or super-packet that does not parse.
    public let unusableTunnelReads = Atomic<Int>(0)
    /// Super-packets written to the TUN and the segments merged into them (GRO in the node).
    public let superPacketsToTunnel = Atomic<Int>(0)
    public let segmentsCoalesced = Atomic<Int>(0)
    /// UDP receives that carried more than one datagram (GRO), and sends of more than one (GSO).
    public let groReceives = Atomic<Int>(0)
    public let gsoSends = Atomic<Int>(0)
    /// Batches whose sealing or opening was spread over more than one thread (`ParallelBatch`).
    public let parallelBatches = Atomic<Int>(0)

    /// Boxes an atomic so several can live in one array (atomics cannot be copied).
    final class Counter: Sendable { let value = Atomic<Int>(0) }

    /// Cached: `allCases` builds a new array on every call, and drops can come by the hundred thousand.
    private static let reasons = DropReason.allCases
    private static let filterReasons = FilterDropReason.allCases

    public init() {
        droppedByReason = DropReason.allCases.map { _ in Counter() }
        filteredByReason = FilterDropReason.allCases.map { _ in Counter() }
    }

    @inline(__always)
    public func filtered(_ reason: FilterDropReason) {
        filteredByReason[Self.filterReasons.firstIndex(of: reason)!].value.add(1, ordering: .relaxed)
    }

    public func filteredCount(_ reason: FilterDropReason) -> Int {
        filteredByReason[Self.filterReasons.firstIndex(of: reason)!].value.load(ordering: .relaxed)
    }

    /// The name a filter drop has in `dropsByReason` (the status's `drops`, meshctl metrics'
    /// `mesh_drops_total{reason=…}`): `acl`, `noFlow`, `flowCut`, and `filterMalformed`, which
    /// is not WireGuard's `malformed` (an undecryptable datagram).
    public static func dropName(_ reason: FilterDropReason) -> String {
        reason == .malformed ? "filterMalformed" : reason.rawValue
    }

    @inline(__always)
    public func drop(_ reason: DropReason) {
        droppedByReason[Self.reasons.firstIndex(of: reason)!].value.add(1, ordering: .relaxed)
    }

    public func dropped(_ reason: DropReason) -> Int {
        droppedByReason[Self.reasons.firstIndex(of: reason)!].value.load(ordering: .relaxed)
    }

    /// Every datagram that reached the socket and was not delivered or answered.
    public var droppedDatagrams: Int {
        let receiveSide: [DropReason] = DropReason.allCases.filter { ![.noRoute, .noEndpoint, .stagingFull, .packetTooLarge].contains($0) }
        return notWireGuard.load(ordering: .relaxed) + oversized.load(ordering: .relaxed) + notForThisNode.load(ordering: .relaxed)
            + receiveSide.reduce(0) { $0 + dropped($1) }
            + FilterDropReason.allCases.reduce(0) { $0 + filteredCount($1) }
    }

    public var dropsByReason: [String: Int] {
        var out: [String: Int] = [:]
        for r in DropReason.allCases { let n = dropped(r); if n > 0 { out[r.rawValue] = n } }
        let nw = notWireGuard.load(ordering: .relaxed)
        if nw > 0 { out["notWireGuard"] = nw }
        let ov = oversized.load(ordering: .relaxed)
        if ov > 0 { out["oversized"] = ov }
        let nf = notForThisNode.load(ordering: .relaxed)
        if nf > 0 { out["notForThisNode"] = nf }
        for r in FilterDropReason.allCases { let n = filteredCount(r); if n > 0 { out[Self.dropName(r)] = n } }
        return out
    }
}
