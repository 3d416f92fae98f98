import CheckedArithmetic
import CoordinatorStore
import Foundation
import Hummingbird
import MeshWire
import NIOCore

/// The admin API on the unix socket (mode 0600): what `meshcoord authkey ...` and
/// `meshcoord node ...` call. Described in Coordinator/openapi-admin.yaml.
struct AdminAPI: Sendable {
    let coordinator: Coordinator

    func register(on router: Router<BasicRequestContext>) {
        router.get("/v1/health") { _, _ in try self.health() }
        router.get("/v1/authkeys") { _, _ in
            let now = Coordinator.nowSeconds()
            return try jsonResponse(try coordinator.store.authKeys().map { AdminAuthKey($0, now: now) }, pretty: true)
        }
        router.post("/v1/authkeys") { request, _ in
            let body = try await Self.decode(request, AdminCreateAuthKeyRequest.self, allowEmpty: true) ?? AdminCreateAuthKeyRequest()
            return try await self.createAuthKey(body)
        }
        router.post("/v1/authkeys/:id/revoke") { _, context in
            let id = try Self.id(context)
            let key = try await coordinator.store.revokeAuthKey(id: id, now: Coordinator.nowSeconds())
            coordinator.logger.notice("auth key revoked", metadata: ["id": "\(id)"])
            return try jsonResponse(AdminAuthKey(key, now: Coordinator.nowSeconds()), pretty: true)
        }
        router.get("/v1/nodes") { _, _ in
            try jsonResponse(coordinator.hub.allNodes().filter { $0.removedAt == nil }.map(AdminNode.init), pretty: true)
        }
        router.post("/v1/nodes/:id/rename") { request, context in
            let id = try Self.id(context)
            guard let body = try await Self.decode(request, AdminRenameRequest.self, allowEmpty: false) else {
                throw CoordinatorError(.badRequest, "expected {\"name\": \"...\"}")
            }
            let node = try await coordinator.store.rename(nodeID: id, to: body.name, now: Coordinator.nowSeconds())
            coordinator.logger.notice("node renamed", metadata: ["id": "\(id)", "name": "\(node.name)"])
            return try jsonResponse(AdminNode(coordinator.hub.node(id: id) ?? node), pretty: true)
        }
        router.post("/v1/nodes/:id/expire") { _, context in
            let id = try Self.id(context)
            let node = try await coordinator.store.expire(nodeID: id, now: Coordinator.nowSeconds())
            await coordinator.revokeRelay(nodeKey: node.nodeKey)
            coordinator.logger.notice("node expired", metadata: ["id": "\(id)", "name": "\(node.name)"])
            return try jsonResponse(AdminNode(node), pretty: true)
        }
        router.delete("/v1/nodes/:id") { _, context in
            let id = try Self.id(context)
            let node = try await coordinator.store.remove(nodeID: id, now: Coordinator.nowSeconds())
            await coordinator.revokeRelay(nodeKey: node.nodeKey)
            coordinator.logger.notice("node removed", metadata: ["id": "\(id)", "name": "\(node.name)"])
            return try jsonResponse(AdminNode(node), pretty: true)
        }
        registerPolicyRoutes(on: router)
    }

    static func id(_ context: BasicRequestContext) throws -> Int64 {
        let raw = context.parameters.get("id") ?? ""
        guard let id = Int64(raw), id > 0 else { throw CoordinatorError(.badRequest, "\"\(raw)\" is not a numeric id") }
        return id
    }

    static func decode<T: Decodable>(_ request: Request, _ type: T.Type, allowEmpty: Bool) async throws -> T? {
        let buffer = try await request.body.collect(upTo: 64 * 1024)
        if buffer.readableBytes == 0 {
            if allowEmpty { return nil }
            throw CoordinatorError(.malformedJSON, "request body is empty")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch {
            throw CoordinatorError(.malformedJSON, "request body is not a valid \(T.self): \(Self.where_(error))")
        }
    }

    /// Which field a decoding error is about, without the decoder's own description.
    static func where_(_ error: any Error) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case DecodingError.keyNotFound(let key, let ctx): return "missing field \"\(path(ctx.codingPath + [key]))\""
        case DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx):
            return "wrong type at \"\(path(ctx.codingPath))\""
        case DecodingError.dataCorrupted(let ctx):
            return ctx.codingPath.isEmpty ? "not valid JSON" : "bad value at \"\(path(ctx.codingPath))\""
        default: return "not valid JSON"
        }
    }

    func health() throws -> Response {
        let c = coordinator
        let h = AdminHealth(status: "ok", netmapVersion: c.hub.version, nodes: c.hub.activeCount, onlineNodes: c.hub.onlineCount,
                            waitingPolls: c.hub.waitingCount, uptimeSeconds: Coordinator.nowSeconds() - c.startedAt,
                            publicURL: c.publicURL, coordinatorKey: c.publicKey.base64,
                            ipv4Prefix: c.store.ipv4Prefix.description, ipv6Prefix: c.store.ipv6Prefix.description,
                            stunPorts: c.stun?.ports.map { [$0.0, $0.1] } ?? [], stunRunning: c.stun?.ports != nil)
        return try jsonResponse(h, pretty: true)
    }

    static func checkTag(_ t: String) throws {
        let ok = !t.isEmpty && t.count <= 64 && t.unicodeScalars.allSatisfy {
            ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || ":_-.".unicodeScalars.contains($0)
        }
        guard ok else {
            throw CoordinatorError(.badRequest, "tag \"\(t)\" must be 1-64 characters of letters, digits, ':', '_', '-', '.'")
        }
    }

    func createAuthKey(_ req: AdminCreateAuthKeyRequest) async throws -> Response {
        let tags = req.tags ?? []
        for t in tags { try Self.checkTag(t) }
        if let user = req.user { try UserName.check(user) }
        try coordinator.checkTagsAllowed(tags, user: req.user)
        if let e = req.expirySeconds, !(0...AdminCreateAuthKeyRequest.maxExpirySeconds).contains(e) {
            throw CoordinatorError(.badRequest, "expirySeconds must be 0 (never) to \(AdminCreateAuthKeyRequest.maxExpirySeconds) (100 years)")
        }
        let now = Coordinator.nowSeconds()
        let expiresAt = req.expirySeconds.flatMap { $0 > 0 ? now.saturatingAdding($0) : nil }
        let secret = SodiumEntropy.bytes(JoinToken.secretLength)
        let token = coordinator.makeJoinToken(secret: secret)
        let key = try await coordinator.store.createAuthKey(secret: token.authSecret, reusable: req.reusable ?? false,
                                                            expiresAt: expiresAt, tags: tags, description: req.description,
                                                            now: now, user: req.user)
        coordinator.logger.notice("auth key created", metadata: ["id": "\(key.id)", "reusable": "\(key.reusable)"])
        return try jsonResponse(AdminCreateAuthKeyResponse(authKey: AdminAuthKey(key, now: now), token: token.encoded),
                                status: .created, pretty: true)
    }
}
