import CheckedArithmetic
import CoordinatorStore
import Foundation
import Hummingbird
import MeshCrypto
import MeshWire
import NIOCore

/// The node API of DESIGN.md section 7: sealed JSON over HTTP.
struct NodeAPI: Sendable {
    let coordinator: Coordinator

    func register(on router: Router<NodeRequestContext>) {
        router.post("/v1/register") { request, _ in try await self.sealed(request, RegisterRequest.self, self.register) }
        router.post("/v1/map") { request, context async throws -> Response in
            let disconnect = ClientDisconnect()
            await disconnect.watch(context.channel)
            return try await self.sealed(request, MapRequest.self) { try await self.map($0, $1, disconnect: disconnect) }
        }
        router.post("/v1/endpoints") { request, _ in try await self.sealed(request, EndpointsRequest.self, self.endpoints) }
        router.post("/v1/logout") { request, _ in try await self.sealed(request, LogoutRequest.self, self.logout) }
        router.post("/v1/relay/nodes") { request, _ in try await self.sealed(request, RelayNodesRequest.self, self.relayNodes) }
        // A friendly answer for people who point a browser or curl at the coordinator.
        router.get("/") { _, _ in
            try jsonResponse(["service": "meshcoord",
                              "api": "/v1/register, /v1/map, /v1/endpoints, /v1/logout, /v1/relay/nodes (POST, sealed)"])
        }
    }

    /// Reads, opens and checks a sealed request, runs `handler`, seals its answer.
    func sealed<Req: Codable, Res: Codable>(_ request: Request, _ type: Req.Type,
                                            _ handler: (OpenedRequest, Req) async throws -> Res) async throws -> Response {
        let limit = coordinator.config.maxBodyBytes
        if let cl = request.headers[.contentLength].flatMap({ Int($0) }), cl > limit {
            throw CoordinatorError(.bodyTooLarge, "request body of \(cl) bytes exceeds the limit of \(limit) bytes")
        }
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: limit) } catch is NIOTooManyBytesError {
            throw CoordinatorError(.bodyTooLarge, "request body exceeds the limit of \(limit) bytes")
        }
        let (opened, shared) = try open(Array(buffer.readableBytesView))
        let body = try opened.body(as: Req.self)
        let answer = try await handler(opened, body)
        let sealedReply = try ControlSeal.sealReply(answer, requestID: opened.requestID, sharedKey: shared,
                                                    nowMillis: Coordinator.nowMillis(), nonce: SodiumEntropy.bytes(Box.nonceLength))
        return Response(status: .ok, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: sealedReply)))
    }

    /// Parses, opens and checks a sealed body. Synchronous on purpose: SIMD-backed keys stay out
    /// of async frames (Swift 6.3.1 miscompiles them there); what it returns holds none.
    func open(_ bytes: [UInt8]) throws -> (OpenedRequest, Box.SharedKey) {
        guard !bytes.isEmpty else { throw SealError(.malformedJSON, "request body is empty: expected a sealed JSON envelope") }
        let envelope = try ControlSeal.parseEnvelope(bytes)
        guard let shared = coordinator.sharedKey(for: envelope.nodeKey) else {
            throw SealError(.badEnvelope, "nodeKey is not a usable X25519 public key")
        }
        let now = Coordinator.nowMillis()
        let opened = try ControlSeal.openRequest(nodeKey: envelope.nodeKey, nonce: envelope.nonce, box: envelope.box,
                                                 sharedKey: shared, nowMillis: now)
        try Self.checkStampedAfterStart(opened.timestampMillis, startedAtMillis: coordinator.startedAtMillis)
        let verdict = coordinator.replay.withLock {
            $0.check(nodeKey: envelope.nodeKey, requestID: opened.requestID, timestampMillis: opened.timestampMillis, nowMillis: now)
        }
        switch verdict {
        case .fresh: return (opened, shared)
        case .replayed: throw SealError(.replayedRequest, "this request id was already used: the request is a replay")
        case .overloaded: throw CoordinatorError(.unavailable, "too many requests in flight; try again shortly")
        }
    }

    // MARK: Checks

    /// The replay guard (MeshWire's `ReplayGuard`) lives in memory, so a request captured
    /// before a restart would look fresh to the new process. Refusing every request stamped
    /// at or before this process's start closes that gap and is as good as persisting the
    /// guard's window: a sealed request is only accepted within 60 s
    /// (`ControlSeal.maxClockSkewMillis`) of its stamp, and the guard remembers every id for
    /// that window, so the only requests the new process could be fooled by are ones it has
    /// never seen stamped before it started, which are exactly the ones refused here; requests
    /// stamped after the start are all seen by this process's guard. Persisting the window
    /// instead would cost a database write per request. Legitimate nodes do not notice: meshd
    /// seals every attempt afresh, so its first request after the restart carries a new
    /// stamp (a node whose clock is d seconds behind gets `stale_request` for the first d
    /// seconds, d < 60, and retries). A node whose clock runs ahead stamps requests "later"
    /// than they were sent; one captured in the last d seconds before a restart stays
    /// replayable until its stamp passes, so node clocks should be synchronised.
    static func checkStampedAfterStart(_ timestampMillis: Int64, startedAtMillis: Int64) throws {
        guard timestampMillis > startedAtMillis else {
            let behind = startedAtMillis.absoluteDifference(from: timestampMillis) / 1000
            throw SealError(.staleRequest, "request is stamped \(behind) s before the coordinator (re)started; " +
                            "retry with a fresh request (and check the node's clock)")
        }
    }

    static func checkDiscoKey(_ s: String) throws {
        guard (try? PublicKey(base64: s)) != nil else {
            throw CoordinatorError(.badRequest, "discoKey must be a base64 32-byte public key")
        }
    }

    static func checkEndpoints(_ e: [String]?, homeRelay: String?) throws {
        if let e {
            guard e.count <= EndpointSyntax.maxEndpoints else {
                throw CoordinatorError(.badRequest, "at most \(EndpointSyntax.maxEndpoints) endpoints")
            }
            for x in e where !EndpointSyntax.isValid(x) {
                throw CoordinatorError(.badRequest, "endpoint \"\(x.prefix(80))\" is not ip:port or [ipv6]:port")
            }
        }
        if let h = homeRelay, h.count > 64 || h.isEmpty || !TerminalText.isClean(h) {
            throw CoordinatorError(.badRequest, "homeRelay must be a relay id of 1-64 printable characters")
        }
    }

    /// The active node holding the request's key.
    func activeNode(_ opened: OpenedRequest) throws -> NodeRecord {
        guard let node = coordinator.hub.node(key: Base64.encode(opened.nodeKeyBytes)) else {
            throw CoordinatorError(.nodeUnknown, "this node key is not registered: register first with an auth key")
        }
        guard node.expiredAt == nil else {
            throw CoordinatorError(.nodeExpired, "this node has expired or logged out: register again with an auth key")
        }
        return node
    }

    // MARK: Handlers

    func register(_ opened: OpenedRequest, _ raw: RegisterRequest) async throws -> RegisterResponse {
        try Self.checkDiscoKey(raw.discoKey)
        guard raw.hostname.utf8.count <= 255, raw.os.utf8.count <= 64 else {
            throw CoordinatorError(.badRequest, "hostname (255) or os (64) is too long")
        }
        // Stored cleaned: these reach admins' terminals (see TerminalText).
        var req = raw
        req.hostname = TerminalText.cleaned(raw.hostname)
        req.os = TerminalText.cleaned(raw.os)
        if let k = req.authKey, k.utf8.count > 256 { throw CoordinatorError(.authKeyUnknown, "auth key is not known to this coordinator") }
        let nodeKey = Base64.encode(opened.nodeKeyBytes)
        let node = try await coordinator.store.register(nodeKey: nodeKey, request: req, now: Coordinator.nowSeconds())
        coordinator.reinstateRelay(nodeKey: nodeKey)
        coordinator.hub.touched(node.id, now: Coordinator.nowSeconds())
        coordinator.logger.info("node registered", metadata: ["id": "\(node.id)", "name": "\(node.name)", "ipv4": "\(node.ipv4)"])
        return RegisterResponse(nodeID: node.id, name: node.name, ipv4: node.ipv4, ipv6: node.ipv6,
                                ipv4Prefix: coordinator.store.ipv4Prefix.description,
                                ipv6Prefix: coordinator.store.ipv6Prefix.description,
                                tags: node.tags, relays: coordinator.relays)
    }

    /// - Parameter disconnect: fires when the node's connection goes away; the poll then ends
    ///   at once and tells the hub so, which marks the node offline unless it polls again
    ///   within `NetworkHub.disconnectGraceSeconds`.
    func map(_ opened: OpenedRequest, _ req: MapRequest, disconnect: ClientDisconnect? = nil) async throws -> MapResponse {
        let node = try activeNode(opened)
        try Self.checkEndpoints(req.endpoints, homeRelay: req.homeRelay)
        if let d = req.discoKey { try Self.checkDiscoKey(d) }
        let hub = coordinator.hub
        let now = Coordinator.nowSeconds()
        let wasOffline = hub.pollStarted(node.id, now: now)
        defer { hub.pollEnded(node.id, now: Coordinator.nowSeconds(), clientGone: disconnect?.hasGone ?? false) }

        // The node's own news first (endpoints, home relay, disco key, coming online).
        var ownVersion: UInt64 = 0
        let update = CoordinatorStore.NodeUpdate(endpoints: req.endpoints, homeRelay: req.homeRelay.map { .some($0) },
                                                 discoKey: req.discoKey, online: wasOffline ? true : nil)
        if let changed = try await coordinator.store.update(nodeID: node.id, update, now: now) {
            ownVersion = changed.version
        }

        let since = req.sinceVersion ?? 0
        if since == 0 || since > hub.version {
            // First poll, or a version from before a restore: the whole map.
            return makeResponse(hub.fullMap(for: node.id))
        }
        let keepAlive = SecondsInput.milliseconds(coordinator.config.keepAliveSeconds, within: 0.1...600) ?? 50_000
        let deadline = ContinuousClock.now + .milliseconds(keepAlive)
        var version = since
        let selfSince = max(since, ownVersion)
        while true {
            let d = hub.delta(for: node.id, since: version, selfSince: selfSince)
            if let me = d.selfNode, !me.isActive {
                throw CoordinatorError(.nodeExpired, me.removedAt != nil
                    ? "this node was removed by the admin: register again with an auth key"
                    : "this node has expired or logged out: register again with an auth key")
            }
            if !d.isEmpty { return makeResponse(d) }
            version = max(version, d.version)
            let remaining = deadline - ContinuousClock.now
            if req.wait == false || remaining <= .zero || hub.isShutDown || disconnect?.hasGone == true {
                return .keepAlive(version: version)
            }
            if let disconnect {
                // Whichever comes first: a change, the keep-alive, or the client going away.
                let current = version
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { _ = await hub.waitForChange(after: current, timeout: remaining) }
                    group.addTask { await disconnect.wait() }
                    await group.next()
                    group.cancelAll()
                }
            } else {
                _ = await hub.waitForChange(after: version, timeout: remaining)
            }
        }
    }

    func makeResponse(_ d: NetworkHub.MapData) -> MapResponse {
        if d.full {
            return MapResponse(kind: .full, version: d.version, self: d.selfNode?.nodeInfo, peers: d.peers.map(\.nodeInfo),
                               peersHidden: d.hidden.isEmpty ? nil : d.hidden,
                               relays: coordinator.relays, domain: coordinator.config.domain, packetFilter: d.packetFilter,
                               extraRecords: coordinator.config.extraRecordsForNetmap)
        }
        return MapResponse(kind: .delta, version: d.version, self: d.selfNode?.nodeInfo,
                           peersChanged: d.peers.isEmpty ? nil : d.peers.map(\.nodeInfo),
                           peersRemoved: d.removed.isEmpty ? nil : d.removed, peersHidden: d.hidden.isEmpty ? nil : d.hidden,
                           packetFilter: d.packetFilter)
    }

    func endpoints(_ opened: OpenedRequest, _ req: EndpointsRequest) async throws -> EndpointsResponse {
        let node = try activeNode(opened)
        try Self.checkEndpoints(req.endpoints, homeRelay: req.homeRelay)
        if let d = req.discoKey { try Self.checkDiscoKey(d) }
        let now = Coordinator.nowSeconds()
        coordinator.hub.touched(node.id, now: now)
        let update = CoordinatorStore.NodeUpdate(endpoints: req.endpoints, homeRelay: req.homeRelay.map { .some($0) },
                                                 discoKey: req.discoKey)
        let changed = try await coordinator.store.update(nodeID: node.id, update, now: now)
        return EndpointsResponse(version: changed?.version ?? node.version)
    }

    /// A relay on another host (`meshcoord relay`) asks which node keys to admit. Only the
    /// keys of configured `[[relay]]` tables are answered: the list is every active node's
    /// key, which strangers have no business collecting. Long-polls like `map`, one answer per
    /// change of the set (see `NetworkHub.activeNodeKeys(changedSince:)`).
    func relayNodes(_ opened: OpenedRequest, _ req: RelayNodesRequest) async throws -> RelayNodesResponse {
        guard coordinator.extraRelayKeys.contains(Base64.encode(opened.nodeKeyBytes)) else {
            throw CoordinatorError(.nodeUnknown, "this key is not the key of a [[relay]] in the coordinator's config; " +
                                   "add key = \"<this relay's public key>\" (meshcoord relay --print-key) to its [[relay]] table")
        }
        let hub = coordinator.hub
        let keepAlive = SecondsInput.milliseconds(coordinator.config.keepAliveSeconds, within: 0.1...600) ?? 50_000
        let deadline = ContinuousClock.now + .milliseconds(keepAlive)
        while true {
            let answer = hub.activeNodeKeys(changedSince: req.sinceVersion)
            if answer.keys != nil { return RelayNodesResponse(version: answer.version, nodeKeys: answer.keys) }
            let remaining = deadline - ContinuousClock.now
            if !req.wait || remaining <= .zero || hub.isShutDown {
                return RelayNodesResponse(version: answer.version, nodeKeys: nil)
            }
            _ = await hub.waitForChange(after: answer.version, timeout: remaining)
        }
    }

    func logout(_ opened: OpenedRequest, _ req: LogoutRequest) async throws -> LogoutResponse {
        let node = try activeNode(opened)
        _ = try await coordinator.store.expire(nodeID: node.id, now: Coordinator.nowSeconds(), kind: "logout")
        await coordinator.revokeRelay(nodeKey: node.nodeKey)
        coordinator.logger.info("node logged out", metadata: ["id": "\(node.id)", "name": "\(node.name)"])
        return LogoutResponse(loggedOut: true)
    }
}
