import MeshCrypto
import MeshBase

/// The Pings `meshctl ping` asks for, apart from the path state machine's own: each request
/// sends a few Pings at once (the direct path, or the peer's candidates and one through the
/// relay) and is answered by whichever Pong comes back first, which tells the caller the path
/// and the round trip. Pure: the driver sends the Pings `start` returns and feeds Pongs to
/// `answer`. Bounded: at most `maxRequests` requests, `maxPingsPerRequest` Pings each, and a
/// request the caller forgot to cancel is dropped after `maxAge`.
public struct OnDemandPings: Sendable {
    /// The first Pong for a request.
    public struct Answer: Equatable, Sendable {
        public var request: UInt64
        public var peer: PublicKey
        /// Where the Pong came from; nil when it came through the relay.
        public var via: UDPAddress?
        public var latency: Duration
    }

    struct Pending {
        var request: UInt64
        var peer: PublicKey
        var target: UDPAddress?
        var sentAt: MonotonicTime
    }

    public static let maxRequests = 16
    public static let maxPingsPerRequest = 4
    public static let maxAge: Duration = .seconds(60)

    private var pending: [DiscoTransactionID: Pending] = [:]
    private var nextRequest: UInt64 = 1

    public init() {}

    /// Requests still waiting for a Pong.
    public var requestsInFlight: Int { Set(pending.values.map(\.request)).count }

    /// Starts a request: a Ping (transaction id) per target, nil meaning "through the relay".
    /// Nil when there is no target, or `maxRequests` are already waiting.
    public mutating func start(peer: PublicKey, targets: [UDPAddress?], now: MonotonicTime,
                               entropy: inout some EntropySource) -> (request: UInt64, pings: [(DiscoTransactionID, UDPAddress?)])? {
        pending = pending.filter { now - $0.value.sentAt < Self.maxAge }
        guard !targets.isEmpty, requestsInFlight < Self.maxRequests else { return nil }
        let request = nextRequest
        nextRequest &+= 1
        var pings: [(DiscoTransactionID, UDPAddress?)] = []
        for target in targets.prefix(Self.maxPingsPerRequest) {
            let txid = DiscoTransactionID(using: &entropy)
            pending[txid] = Pending(request: request, peer: peer, target: target, sentAt: now)
            pings.append((txid, target))
        }
        return (request, pings)
    }

    /// A Pong from `peer`, from `source` (nil: through the relay). It answers a request only if
    /// it carries one of its transaction ids and came back from where that Ping went; the
    /// first such Pong ends the request (the others' Pongs are then ignored).
    public mutating func answer(_ txid: DiscoTransactionID, from source: UDPAddress?, peer: PublicKey,
                                now: MonotonicTime) -> Answer? {
        guard let p = pending[txid], p.peer == peer, p.target == source else { return nil }
        cancel(p.request)
        return Answer(request: p.request, peer: peer, via: source, latency: now - p.sentAt)
    }

    /// Forgets a request (answered, or the caller stopped waiting).
    public mutating func cancel(_ request: UInt64) {
        pending = pending.filter { $0.value.request != request }
    }
}
