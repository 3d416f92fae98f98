import MeshPolicy
import Synchronization
import WireGuard

/// The receiving node's packet filter (issue 11) as the data plane's threads share it: the TUN
/// thread notes every packet it reads (`PacketFilter.outbound`, so replies to our own
/// connections pass), the socket thread and the relay path judge every decrypted packet before
/// it is written to the TUN (`PacketFilter.inbound`), and the control path installs new rules.
///
/// Why this shape:
/// - Without an enforced policy there is no `PacketFilter` at all and the data path reads one
///   relaxed atomic per batch (`isEnforcing`): a mesh without a policy pays nothing, tracks no
///   flows and allocates nothing. The price: flows are not known when a first policy arrives,
///   so replies to connections this node opened before it are judged by the new rules.
/// - `PacketFilter` is one value with one flow table that both directions must see (an
///   outbound SYN opens the flow its SYN-ACK is matched against), so it sits behind one
///   `Mutex`, taken once per batch of up to 64 packets rather than per packet; the relay path
///   delivers one datagram at a time and takes it per datagram.
/// - `install` swaps rules under the same lock, so the data path sees either the old rules or
///   the new ones, never a mix; `PacketFilter.setRules` re-judges the flows peers opened and
///   cuts those the new rules refuse before the next batch is judged.
public final class DataPlaneFilter: Sendable {
    struct State: Sendable {
        var filter: PacketFilter?
    }

    private let enforcing = Atomic<Bool>(false)
    private let state = Mutex(State())
    public let configuration: PacketFilter.Configuration

    /// `configuration.hashSeed` is replaced with random bytes: a peer must not know the seed
    /// of the flow table's hash (see `FlowKey.slotHash`).
    public init(configuration: PacketFilter.Configuration = PacketFilter.Configuration()) {
        var seeded = configuration
        var entropy = SystemEntropy()
        withUnsafeMutableBytes(of: &seeded.hashSeed) { entropy.fill($0) }
        self.configuration = seeded
    }

    /// Whether a policy is enforced (a relaxed read: the lock in `withFilter` orders the rest).
    /// Seeing a just-installed policy one batch late is harmless.
    @inline(__always)
    public var isEnforcing: Bool { enforcing.load(ordering: .relaxed) }

    /// Installs the rules of a new policy (nil: no policy, everything passes and the filter
    /// with its flow table is dropped). A first policy builds the filter (its tables are
    /// allocated here, not on the data path); a later one replaces the rules in place and cuts
    /// the flows peers opened that the new rules refuse.
    public func install(_ rules: [FilterRule]?) {
        guard let rules else {
            let old = state.withLock { s -> PacketFilter? in
                enforcing.store(false, ordering: .releasing)
                let f = s.filter
                s.filter = nil
                return f
            }
            _ = old  // freed outside the lock
            return
        }
        // Built before taking the lock: a first filter allocates its flow table.
        let fresh: PacketFilter? = isEnforcing ? nil : PacketFilter(configuration: configuration, rules: rules)
        state.withLock { s in
            if s.filter == nil {
                s.filter = fresh ?? PacketFilter(configuration: configuration, rules: rules)
            } else {
                s.filter!.setRules(rules)
            }
            enforcing.store(true, ordering: .releasing)
        }
    }

    /// Runs `body` on the filter under the lock; nil (and `body` not run) without a policy.
    @inline(__always)
    public func withFilter<R: Sendable>(_ body: (inout PacketFilter) -> R) -> R? {
        state.withLock { s -> R? in
            guard s.filter != nil else { return nil }
            return body(&s.filter!)
        }
    }

    /// The filter's counters and flow count (for tests and benchmarks); nil without a policy.
    public var snapshot: (counters: PacketFilter.Counters, flows: Int, rules: Int)? {
        withFilter { f in (f.counters, f.flowCount, f.rules?.count ?? 0) }
    }
}
