import MeshPolicy
import Synchronization
import WireGuard

/// The receiving node's packet filter (issue 11) as the data plane's threads share it: the TUN
/// thread notes every packet it reads (`PacketFilter.outbound`, so replies to our own
/// connections pass), the socket thread and the relay path judge every decrypted packet before
/// it is written to the TUN (`PacketFilter.inbound`), and the control path installs new rules.
///
/// Why this shape:
/// - Without an enforced policy inbound packets are not judged (one relaxed atomic per batch,
///   `isEnforcing`), and the only flows tracked are the TCP connections this node opens: the
///   TUN thread tests each packet for a SYN without ACK (`OutboundConnectionStart`, a few
///   bytes) and records those (`recordOutboundOpens`, one lock per batch that has one). So
///   when a first policy arrives, replies to connections we opened before it pass. UDP and ICMP
///   are not recorded: telling a new datagram flow from an old one costs a hash probe per
///   packet, and under a policy our next datagram or echo request opens the flow anyway. The
///   filter and its flow table are allocated once, here, never on the data path.
/// - `PacketFilter` is one value with one flow table that both directions must see (an
///   outbound SYN opens the flow its SYN-ACK is matched against), so it sits behind one
///   `Mutex`, taken once per batch of up to 64 packets rather than per packet; the relay path
///   delivers one datagram at a time and takes it per datagram.
/// - `install` swaps rules under the same lock, so the data path sees either the old rules or
///   the new ones, never a mix; `PacketFilter.setRules` re-judges the flows peers opened and
///   cuts those the new rules refuse before the next batch is judged.
public final class DataPlaneFilter: Sendable {
    struct State: Sendable {
        var filter: PacketFilter
        /// Whether `filter` judges inbound packets (a policy is set); the atomic's twin, read
        /// under the lock.
        var enforcing = false
    }

    private let enforcing = Atomic<Bool>(false)
    private let state: Mutex<State>
    public let configuration: PacketFilter.Configuration

    /// `configuration.hashSeed` is replaced with random bytes: a peer must not know the seed
    /// of the flow table's hash (see `FlowKey.slotHash`).
    public init(configuration: PacketFilter.Configuration = PacketFilter.Configuration()) {
        var seeded = configuration
        var entropy = SystemEntropy()
        withUnsafeMutableBytes(of: &seeded.hashSeed) { entropy.fill($0) }
        self.configuration = seeded
        state = Mutex(State(filter: PacketFilter(configuration: seeded, rules: nil)))
    }

    /// Whether a policy is enforced (a relaxed read: the lock in `withFilter` orders the rest).
    /// Seeing a just-installed policy one batch late is harmless.
    @inline(__always)
    public var isEnforcing: Bool { enforcing.load(ordering: .relaxed) }

    /// Installs the rules of a new policy (nil: no policy, everything passes and only our own
    /// connection starts are tracked). The rules are swapped in place: flows peers opened that
    /// the new rules refuse are cut, flows we opened (also those recorded without a policy)
    /// stay.
    public func install(_ rules: [FilterRule]?) {
        state.withLock { s in
            s.filter.setRules(rules)
            s.enforcing = rules != nil
            enforcing.store(rules != nil, ordering: .releasing)
        }
    }

    /// Runs `body` on the filter under the lock; nil (and `body` not run) without a policy.
    @inline(__always)
    public func withFilter<R: Sendable>(_ body: (inout PacketFilter) -> R) -> R? {
        state.withLock { s -> R? in
            guard s.enforcing else { return nil }
            return body(&s.filter)
        }
    }

    /// Runs `body` on the filter under the lock, with or without a policy: for the TUN thread
    /// to record the connections this node opens (`PacketFilter.outbound` on their SYNs) while
    /// no policy is enforced.
    @inline(__always)
    public func recordOutboundOpens(_ body: (inout PacketFilter) -> Void) {
        state.withLock { s in body(&s.filter) }
    }

    /// The filter's counters and flow count (for tests and benchmarks); nil without a policy.
    public var snapshot: (counters: PacketFilter.Counters, flows: Int, rules: Int)? {
        withFilter { f in (f.counters, f.flowCount, f.rules?.count ?? 0) }
    }
}
