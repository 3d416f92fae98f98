import CheckedArithmetic
import Logging
import MeshCrypto
import MeshWire
import NIOCore
import Relay
import RelayIO
import ServiceLifecycle
import Synchronization

/// `RelayNodeAdmission` behind a lock: written by the poller, read by the relay's authorizer
/// (which runs under the relay's lock; nothing here calls into the relay while holding this one).
public final class SharedRelayAdmission: Sendable {
    let state: Mutex<RelayNodeAdmission>

    public init(_ admission: RelayNodeAdmission = RelayNodeAdmission()) { state = Mutex(admission) }

    public var isReady: Bool { state.withLock { $0.isReady } }
    public var sinceVersion: UInt64? { state.withLock { $0.sinceVersion } }
    public var count: Int { state.withLock { $0.admitted.count } }
    public func apply(_ answer: RelayNodesResponse) -> RelayNodeAdmission.Outcome { state.withLock { $0.apply(answer) } }
    public func admits(_ key: PublicKey) -> Bool {
        let text = key.base64
        return state.withLock { $0.admits(text) }
    }

    /// For `RelayService(authorize:)`.
    public var authorizer: RelayServerCore.Authorizer { { [self] key in admits(key) } }
}

/// Keeps a relay on another host's admission list in step with the coordinator: long-polls
/// `POST /v1/relay/nodes` (one answer per change of the set, or per keepalive), applies each
/// answer, and revokes keys that left so their relay connections drop at once. Failures back
/// off (`RelayNodesPollSchedule`) and keep the last good list.
public struct RelayNodesPoller: Service {
    public let client: RelayNodesClient
    public let admission: SharedRelayAdmission
    public let relay: RelayService
    /// Per request; must exceed the coordinator's keepalive_seconds (default 50).
    public let pollTimeout: TimeAmount
    public let schedule: RelayNodesPollSchedule
    /// Successive requests start at least this far apart, so a coordinator whose set changes
    /// all the time (or that answers at once) costs a bounded number of lists per second.
    public let minimumInterval: Duration
    public let logger: Logger

    public init(client: RelayNodesClient, admission: SharedRelayAdmission, relay: RelayService, pollTimeout: TimeAmount,
                schedule: RelayNodesPollSchedule = RelayNodesPollSchedule(), minimumInterval: Duration = .milliseconds(250),
                logger: Logger) {
        self.client = client
        self.admission = admission
        self.relay = relay
        self.pollTimeout = pollTimeout
        self.schedule = schedule
        self.minimumInterval = minimumInterval
        self.logger = logger
    }

    public func run() async throws {
        var schedule = self.schedule
        var entropy = SodiumEntropy()
        let clock = ContinuousClock()
        let origin = clock.now
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let started = clock.now
            let request = RelayNodesRequest(sinceVersion: admission.sinceVersion, wait: true)
            let client = self.client, timeout = pollTimeout
            guard let result = await abandoningOnShutdown({ () -> Result<RelayNodesResponse, any Error> in
                do { return .success(try await client.fetch(request, timeout: timeout)) } catch { return .failure(error) }
            }) else { break }

            var problem: String? = nil
            switch result {
            case .success(let answer):
                let first = !admission.isReady
                switch admission.apply(answer) {
                case .changed(let change):
                    reportRecovery(schedule.succeeded())
                    await carryOut(change, first: first, version: answer.version)
                case .unchanged:
                    reportRecovery(schedule.succeeded())
                case .refused(let why):
                    problem = why
                }
            case .failure(let error):
                problem = describe(error)
            }

            var pause = minimumInterval - (clock.now - started)
            if let problem {
                let elapsed = clock.now - origin
                let now = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                let (delay, report) = schedule.failed(now: now, random: Double(entropy.nextUInt32()) / 4_294_967_296.0)
                if let report { reportFailure(problem, count: report) }
                pause = max(pause, .milliseconds(SecondsInput.milliseconds(delay, within: 0...3600) ?? 30_000))
            }
            if pause > .zero {
                let wait = pause
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
            }
        }
    }

    /// The set is already updated, so the authorizer refuses a revoked key even before its
    /// connection is dropped here; each revocation waits for the socket to close, so the log
    /// line is true when written.
    func carryOut(_ change: RelayNodeAdmission.Change, first: Bool, version: UInt64) async {
        for text in change.admitted {
            if let key = try? PublicKey(base64: text) { relay.reinstate(key) }
        }
        for text in change.revoked {
            if let key = try? PublicKey(base64: text) { await relay.revoke(key) }
        }
        let meta: Logger.Metadata = ["admitted": "\(admission.count)", "version": "\(version)"]
        if first {
            logger.info("authorized node list received from the coordinator; relaying for its nodes", metadata: meta)
        } else if !change.admitted.isEmpty || !change.revoked.isEmpty {
            logger.info("authorized node list changed: \(change.admitted.count) added, \(change.revoked.count) revoked", metadata: meta)
        }
        if change.malformed > 0 {
            logger.warning("the coordinator's node list had \(change.malformed) entries that are not node keys; skipped them")
        }
    }

    func describe(_ error: any Error) -> String {
        if case RelayNodesFetchError.refused(_, let body?, _) = error, body.code == ErrorCode.nodeUnknown.rawValue {
            return "\(error); add key = \"\(relay.serverKey.base64)\" to this relay's [[relay]] table in the coordinator's " +
                "config and restart the coordinator"
        }
        return "\(error)"
    }

    func reportFailure(_ problem: String, count: Int) {
        let keeping = admission.isReady
            ? "keeping the last list (\(admission.count) node keys)"
            : "admitting no node until the coordinator answers"
        logger.warning("cannot get the authorized node list (\(count) failed request(s) since the last report): \(problem); \(keeping)",
                       metadata: ["coordinator": "\(client.coordinatorURL)"])
    }

    func reportRecovery(_ failures: Int) {
        if failures > 0 {
            logger.notice("the coordinator answers again after \(failures) failed request(s)",
                          metadata: ["coordinator": "\(client.coordinatorURL)"])
        }
    }
}

/// The operation's result, or nil as soon as graceful shutdown or cancellation comes first.
/// The operation is then left to finish by itself: an HTTP long-poll cannot be cancelled,
/// ends by its own timeout, and must not hold up a SIGTERM for that long.
func abandoningOnShutdown<T: Sendable>(_ operation: @escaping @Sendable () async -> T) async -> T? {
    let slot = FirstDelivery<T?>()
    Task { slot.deliver(await operation()) }
    return await withTaskCancellationOrGracefulShutdownHandler {
        await slot.value()
    } onCancelOrGracefulShutdown: {
        slot.deliver(nil)
    }
}

/// A value delivered once (later deliveries are ignored) and awaited by one reader.
final class FirstDelivery<T: Sendable>: Sendable {
    private enum State {
        case empty
        case waiting(CheckedContinuation<T, Never>)
        case delivered(T)
    }
    private let state = Mutex<State>(.empty)

    func deliver(_ value: T) {
        let waiter = state.withLock { s -> CheckedContinuation<T, Never>? in
            switch s {
            case .empty:
                s = .delivered(value)
                return nil
            case .waiting(let c):
                s = .delivered(value)
                return c
            case .delivered:
                return nil
            }
        }
        waiter?.resume(returning: value)
    }

    func value() async -> T {
        await withCheckedContinuation { c in
            let ready = state.withLock { s -> T? in
                switch s {
                case .empty, .waiting:
                    s = .waiting(c)
                    return nil
                case .delivered(let v):
                    return v
                }
            }
            if let ready { c.resume(returning: ready) }
        }
    }
}
