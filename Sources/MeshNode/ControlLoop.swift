import Foundation
import Logging
import MeshCrypto
import MeshIO
import MeshWire
import NIOCore

/// The driver around `ControlClient` and `NetmapState`: registers, then follows the map
/// long-poll for as long as the node runs, reconnecting with exponential backoff and jitter
/// when the coordinator is down (the device keeps its peers meanwhile, so tunnels keep working),
/// and republishes the node's endpoints when they change.
/// Sendable by hand: every mutable field (state, phase, hooks, tasks) is guarded by `lock`.
public final class ControlLoop: @unchecked Sendable {
    public struct Options: Sendable {
        public var hostname: String
        public var os: String
        /// This run's disco public key (base64).
        public var discoKey: String
        /// From the join token; nil when rejoining with a saved identity only.
        public var authSecret: String?
        public var mapTimeout: TimeAmount = .seconds(90)
        public var endpointCheckInterval: Duration = .seconds(10)
        /// Between failed registrations and polls: from half a second up to 30 s.
        public var backoff = Backoff(initial: .milliseconds(500), maximum: .seconds(30))

        public init(hostname: String, os: String = "linux", discoKey: String, authSecret: String?) {
            self.hostname = hostname
            self.os = os
            self.discoKey = discoKey
            self.authSecret = authSecret
        }
    }

    public enum Phase: String, Sendable, Codable {
        case starting, registering, connected, unreachable, refused, removed
    }

    /// What the local API shows about the control connection.
    public struct Status: Sendable {
        public var phase: Phase
        public var lastError: String?
        public var netmap: NetmapState
        public var registration: RegisterResponse?
    }

    public let client: ControlClient
    public let options: Options
    let logger: Logger
    private let lock = Lock()
    private var state = NetmapState()
    private var phase = Phase.starting
    private var lastError: String?
    private var registration: RegisterResponse?
    private var registeredThisRun = false
    /// What the coordinator last accepted from this node; nil after a failure (send all again).
    private var published: PublishedPaths?
    private var tasks: [Task<Void, Never>] = []

    /// The callbacks and sources the node plugs in. Guarded by `lock`: the node sets them while
    /// the loop's tasks may already read them.
    private struct Hooks {
        var onRegistered: (@Sendable (RegisterResponse) -> Void)?
        var onPeers: (@Sendable (PeerDiff, NetmapState) -> Void)?
        var onRemoved: (@Sendable (ControlError) -> Void)?
        var onNetmapChanged: (@Sendable (NetmapState) -> Void)?
        var onPacketFilter: (@Sendable (PacketFilterMessage?) -> Void)?
        var endpoints: @Sendable () -> [String] = { [] }
        var homeRelay: @Sendable () -> String? = { nil }
    }
    private var hooks = Hooks()

    /// Called (from the loop's task) after every successful registration.
    public var onRegistered: (@Sendable (RegisterResponse) -> Void)? {
        get { lock.withLock { hooks.onRegistered } }
        set { lock.withLock { hooks.onRegistered = newValue } }
    }
    /// Called with every non-empty peer change, in order.
    public var onPeers: (@Sendable (PeerDiff, NetmapState) -> Void)? {
        get { lock.withLock { hooks.onPeers } }
        set { lock.withLock { hooks.onPeers = newValue } }
    }
    /// Called once when the coordinator says this node is no longer active (removed by the
    /// admin, expired, logged out). The loop then stops: coming back takes a new join.
    public var onRemoved: (@Sendable (ControlError) -> Void)? {
        get { lock.withLock { hooks.onRemoved } }
        set { lock.withLock { hooks.onRemoved = newValue } }
    }
    /// Called (from the loop's task, so in order) whenever the netmap's content changed, to
    /// keep it for the next start; not for keepalives, which move only the version.
    public var onNetmapChanged: (@Sendable (NetmapState) -> Void)? {
        get { lock.withLock { hooks.onNetmapChanged } }
        set { lock.withLock { hooks.onNetmapChanged = newValue } }
    }
    /// Called (from the loop's task, in order) when the netmap's packet filter changed: a new
    /// filter, or nil when a full map says there is no policy. A removed node keeps its last
    /// filter (it has no peers left to filter).
    public var onPacketFilter: (@Sendable (PacketFilterMessage?) -> Void)? {
        get { lock.withLock { hooks.onPacketFilter } }
        set { lock.withLock { hooks.onPacketFilter = newValue } }
    }
    /// The node's current candidate endpoints.
    public var endpoints: @Sendable () -> [String] {
        get { lock.withLock { hooks.endpoints } }
        set { lock.withLock { hooks.endpoints = newValue } }
    }
    /// The node's current home relay id (peers send relayed packets there); nil: none yet.
    public var homeRelay: @Sendable () -> String? {
        get { lock.withLock { hooks.homeRelay } }
        set { lock.withLock { hooks.homeRelay = newValue } }
    }

    /// Where peers can reach this node, as published to the coordinator.
    struct PublishedPaths: Equatable {
        var endpoints: [String]
        var homeRelay: String?
    }

    private func currentPaths() -> PublishedPaths { PublishedPaths(endpoints: endpoints(), homeRelay: homeRelay()) }

    /// `restoring`: the netmap saved by the previous run, which the node follows until the
    /// coordinator answers (the first request asks for a full map, which replaces it).
    public init(client: ControlClient, options: Options, logger: Logger, restoring: NetmapState? = nil) {
        self.client = client
        self.options = options
        self.logger = logger
        if let restoring { state = restoring.resumed() }
    }

    public var status: Status {
        lock.withLock { Status(phase: phase, lastError: lastError, netmap: state, registration: registration) }
    }

    private func set(_ p: Phase, error: String? = nil) {
        lock.withLock {
            phase = p
            lastError = error
        }
    }

    /// One registration attempt.
    public func register() async throws -> RegisterResponse {
        set(.registering)
        let r = try await client.register(RegisterRequest(authKey: options.authSecret, hostname: options.hostname,
                                                          os: options.os, discoKey: options.discoKey))
        lock.withLock {
            registration = r
            registeredThisRun = true
        }
        onRegistered?(r)
        return r
    }

    /// Registers, retrying while the coordinator is unreachable; a refusal (bad or used auth
    /// key, …) is thrown at once with the coordinator's reason.
    public func registerUntilRefused() async throws -> RegisterResponse {
        var backoff = options.backoff
        var entropy = SystemEntropy()
        while true {
            do { return try await register() } catch let e as ControlError where e.isTransient {
                let delay = backoff.nextDelay(now: SystemClock.now(), entropy: &entropy)
                set(.unreachable, error: "\(e)")
                logger.warning("\(e); retrying in \(Self.seconds(delay)) s")
                try await Task.sleep(for: delay)
            } catch let e as ControlError {
                set(.refused, error: "\(e)")
                throw e
            }
        }
    }

    /// Starts the map loop and the endpoint watcher.
    public func start() {
        let a = Task { await self.run() }
        let b = Task { await self.watchEndpoints() }
        lock.withLock { tasks = [a, b] }
    }

    public func stop() {
        for t in lock.withLock({ tasks }) { t.cancel() }
    }

    /// Registers if this run has not yet, then follows the netmap until cancelled.
    public func run() async {
        var backoff = options.backoff
        var entropy = SystemEntropy()
        while !Task.isCancelled {
            var registering = false
            do {
                if !lock.withLock({ registeredThisRun }) {
                    registering = true
                    let r = try await register()
                    registering = false
                    logger.info("registered with \(client.coordinatorURL) as \(r.name) (\(r.ipv4), \(r.ipv6))")
                }
                let paths = currentPaths()
                let eps = paths.endpoints
                let (since, sent, connected) = lock.withLock { (state.sinceVersion, published, phase == .connected) }
                // After a failure, the first poll answers at once so the node knows it is back.
                let request = MapRequest(sinceVersion: since, endpoints: eps == sent?.endpoints ? nil : eps,
                                         homeRelay: paths.homeRelay == sent?.homeRelay ? nil : paths.homeRelay,
                                         wait: connected ? nil : false)
                let response = try await client.map(request, timeout: options.mapTimeout)
                let (diff, snapshot, wasConnected, changed, filterChanged) = lock.withLock {
                    published = paths
                    let was = phase == .connected
                    phase = .connected
                    lastError = nil
                    let before = state
                    let d = state.apply(response)
                    return (d, state, was, !state.sameContent(as: before), state.packetFilter != before.packetFilter)
                }
                if !wasConnected {
                    logger.info("following the netmap of \(client.coordinatorURL): version \(snapshot.version), \(snapshot.peers.count) peers; endpoints \(eps)")
                }
                backoff.reset()
                // The filter before the peers: a peer the new policy admits is reached under it.
                if filterChanged { onPacketFilter?(snapshot.packetFilter) }
                if !diff.isEmpty { onPeers?(diff, snapshot) }
                if changed { onNetmapChanged?(snapshot) }
            } catch is CancellationError {
                return
            } catch {
                let e = (error as? ControlError) ?? .unreachable("\(error)")
                lock.withLock { published = nil }
                // Gone, or a saved identity the coordinator no longer takes back: only a new join helps.
                if e.nodeGone || (registering && !e.isTransient) {
                    let (diff, snapshot) = lock.withLock {
                        phase = e.nodeGone ? .removed : .refused
                        lastError = "\(e)"
                        let d = state.reset()
                        return (d, state)
                    }
                    logger.error("\(e): this node is no longer part of the network; dropping all peers. To come back: meshd up --join NEW_TOKEN")
                    if !diff.isEmpty { onPeers?(diff, snapshot) }
                    onRemoved?(e)
                    return
                } else if e.isTransient {
                    set(.unreachable, error: "\(e)")
                } else {
                    set(.refused, error: "\(e)")
                }
                let delay = backoff.nextDelay(now: SystemClock.now(), entropy: &entropy)
                if !e.nodeGone { logger.warning("\(e); retrying in \(Self.seconds(delay)) s") }
                do { try await Task.sleep(for: delay) } catch { return }
            }
        }
    }

    /// Publishes the endpoints and home relay soon after they change (the long-poll may be
    /// waiting ~50 s).
    func watchEndpoints() async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: options.endpointCheckInterval) } catch { return }
            let paths = currentPaths()
            let (sent, connected) = lock.withLock { (published, phase == .connected) }
            guard connected, let sent, sent != paths else { continue }
            do {
                _ = try await client.updateEndpoints(EndpointsRequest(endpoints: paths.endpoints, homeRelay: paths.homeRelay))
                lock.withLock { published = paths }
                logger.info("endpoints changed; published \(paths.endpoints), home relay \(paths.homeRelay ?? "none")")
            } catch {
                logger.warning("publishing endpoints failed: \(error)")
            }
        }
    }

    /// Leaves the network (peers are told); the node key stays, a new auth key is needed to return.
    public func logout() async throws {
        _ = try await client.logout(reason: "meshd logout")
    }

    /// A delay as the log prints it ("2.4").
    static func seconds(_ d: Duration) -> String {
        String(format: "%.1f", Double(d.nanoseconds) / 1e9)
    }
}
