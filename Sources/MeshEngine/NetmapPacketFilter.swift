import Logging
import MeshIO
import MeshPolicy
import MeshWire
import Synchronization

/// Follows the netmap's packet filter into the data plane: each new `PacketFilterMessage` is
/// converted (`NetmapFilterRules`) and installed in the `DataPlaneFilter`; a message that does
/// not convert is refused whole, the previous filter stays (or, where there was none, nothing from
/// peers is admitted: a policy exists, so allow-all would fail open), and the refusal is logged
/// once per distinct message (the same broken filter arrives again with every full map).
public final class NetmapPacketFilter: Sendable {
    public let filter: DataPlaneFilter
    let logger: Logger

    struct State: Sendable {
        /// The message whose rules are installed (nil inside: none yet, allow all).
        var installed: PacketFilterMessage??
        var lastRefused: PacketFilterMessage?
    }
    private let state = Mutex(State(installed: nil, lastRefused: nil))

    public init(filter: DataPlaneFilter, logger: Logger) {
        self.filter = filter
        self.logger = logger
    }

    /// Installs `message` (nil: the map has no filter, allow all). Returns false when it was
    /// refused: the previous filter kept, or an empty one installed when none was enforced.
    @discardableResult
    public func follow(_ message: PacketFilterMessage?) -> Bool {
        let unchanged = state.withLock { s in s.installed == .some(message) }
        if unchanged { return true }
        let rules: [FilterRule]?
        do {
            rules = try NetmapFilterRules.rules(from: message)
        } catch {
            let first = state.withLock { s in
                defer { s.lastRefused = message }
                return s.lastRefused != message
            }
            // The coordinator says a policy exists; a node that was allowing everything must not
            // go on doing so because this copy of it does not convert: fail closed (no rules:
            // every new flow from peers is refused) until one that converts arrives.
            let failClosed = !filter.isEnforcing
            if failClosed {
                filter.install([])
                state.withLock { s in s.installed = .none }
            }
            if first {
                let kept = failClosed ? "refusing every connection from peers until one that converts arrives"
                                      : "keeping the previous one"
                logger.error("packet filter from the coordinator refused, \(kept): \(error)")
            }
            return false
        }
        let wasEnforcing = filter.isEnforcing
        filter.install(rules)
        state.withLock { s in
            s.installed = .some(message)
            s.lastRefused = nil
        }
        if let rules {
            let version = message?.policyVersion.map { " (policy version \($0))" } ?? ""
            logger.info("packet filter: \(rules.count) rules enforced\(version); anything else from peers is dropped")
        } else if wasEnforcing {
            logger.info("packet filter: no policy any more, peers may reach every port")
        }
        return true
    }
}
