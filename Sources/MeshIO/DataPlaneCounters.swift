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
    private let droppedByReason: [Counter]

    /// Boxes an atomic so several can live in one array (atomics cannot be copied).
    final class Counter: Sendable { let value = Atomic<Int>(0) }

    /// Cached: `allCases` builds a new array on every call, and drops can come by the hundred thousand.
    private static let reasons = DropReason.allCases

    public init() {
        droppedByReason = DropReason.allCases.map { _ in Counter() }
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
        return notWireGuard.load(ordering: .relaxed) + oversized.load(ordering: .relaxed)
            + receiveSide.reduce(0) { $0 + dropped($1) }
    }

    public var dropsByReason: [String: Int] {
        var out: [String: Int] = [:]
        for r in DropReason.allCases { let n = dropped(r); if n > 0 { out[r.rawValue] = n } }
        let nw = notWireGuard.load(ordering: .relaxed)
        if nw > 0 { out["notWireGuard"] = nw }
        let ov = oversized.load(ordering: .relaxed)
        if ov > 0 { out["oversized"] = ov }
        return out
    }
}
