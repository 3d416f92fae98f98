/// Why a disco datagram was dropped (or, for `tooManyCandidates`, why part of a CallMeMaybe was
/// refused). The raw values are the field names `meshctl status --json` shows under `discoDrops`.
public enum DiscoDropReason: String, CaseIterable, Sendable {
    /// The sender's disco key (read from the clear header) is not a current peer's: rejected
    /// before any public-key work, so a flood of junk costs a table lookup each.
    case unknownSender
    /// The box did not open with that peer's shared key: forged, corrupted or replayed under a wrong key.
    case badSeal
    /// Too short, too long, unknown message type or truncated body.
    case malformed
    /// Over a per-source or per-peer budget (disco messages, Pongs, CallMeMaybes).
    case rateLimited
    /// A CallMeMaybe listed more endpoints than the per-peer candidate cap leaves room for.
    case tooManyCandidates
    /// Authentic, but for the wrong peer: a relayed packet from another node than the disco
    /// key's owner, or a Ping naming another node key.
    case wrongPeer
}

/// Drop counts by reason, in fixed storage (counting allocates nothing).
public struct DiscoDropCounters: Sendable, Equatable {
    private var counts = [UInt64](repeating: 0, count: DiscoDropReason.allCases.count)

    public init() {}

    public mutating func count(_ reason: DiscoDropReason) {
        let i = Self.index(reason)
        counts[i] = counts[i] &+ 1
    }

    public subscript(_ reason: DiscoDropReason) -> UInt64 { counts[Self.index(reason)] }

    public var total: UInt64 { counts.reduce(0, &+) }

    /// Every reason, zeros included, so readers of the JSON can rely on each field being there.
    public var byName: [String: Int] {
        Dictionary(uniqueKeysWithValues: DiscoDropReason.allCases.map { ($0.rawValue, Int(clamping: self[$0])) })
    }

    static func index(_ r: DiscoDropReason) -> Int {
        switch r {
        case .unknownSender: return 0
        case .badSeal: return 1
        case .malformed: return 2
        case .rateLimited: return 3
        case .tooManyCandidates: return 4
        case .wrongPeer: return 5
        }
    }
}
