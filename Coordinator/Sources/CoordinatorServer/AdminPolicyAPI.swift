import CoordinatorStore
import Foundation
import Hummingbird
import MeshPolicy
import MeshWire

/// The admin API's users, tags and policy endpoints (issue 11).
extension AdminAPI {
    /// Largest policy file accepted over the admin socket.
    static let maxPolicyBytes = 1 << 20

    func registerPolicyRoutes(on router: Router<BasicRequestContext>) {
        router.get("/v1/users") { _, _ in try jsonResponse(try self.listUsers(), pretty: true) }
        router.post("/v1/users") { request, _ in
            guard let body = try await Self.decode(request, AdminCreateUserRequest.self, allowEmpty: false) else {
                throw CoordinatorError(.badRequest, "expected {\"name\": \"...\"}")
            }
            try UserName.check(body.name)
            let user = try await coordinator.store.createUser(name: body.name, now: Coordinator.nowSeconds())
            try coordinator.refreshUsers()
            coordinator.logger.notice("user created", metadata: ["name": "\(user.name)"])
            return try jsonResponse(AdminUser(name: user.name, createdAt: formatTime(user.createdAt), nodes: 0), status: .created, pretty: true)
        }
        router.delete("/v1/users/:name") { _, context in
            let name = context.parameters.get("name") ?? ""
            let hub = coordinator.hub
            let user = try await coordinator.store.removeUser(name: name) {
                if let reference = hub.policyDocument?.userReferences.first(where: { $0.value == name }) {
                    throw CoordinatorError(.badRequest, "the running policy names the user \"\(name)\" at \(reference.position); change the policy first")
                }
            }
            try coordinator.refreshUsers()
            coordinator.logger.notice("user removed", metadata: ["name": "\(user.name)"])
            return try jsonResponse(AdminUser(name: user.name, createdAt: formatTime(user.createdAt), nodes: 0), pretty: true)
        }
        router.post("/v1/nodes/:id/tags") { request, context in
            let id = try Self.id(context)
            guard let body = try await Self.decode(request, AdminSetTagsRequest.self, allowEmpty: false) else {
                throw CoordinatorError(.badRequest, "expected {\"tags\": [\"tag:...\"]}")
            }
            let tags = Array(Set(body.tags)).sorted()
            for t in tags { try Self.checkTag(t) }
            try coordinator.checkTagsAllowed(tags, user: nil)
            let node = try await coordinator.store.setTags(nodeID: id, tags: tags, now: Coordinator.nowSeconds())
            coordinator.logger.notice("node tags set", metadata: ["id": "\(id)", "tags": "\(tags.joined(separator: ","))"])
            return try jsonResponse(AdminNode(coordinator.hub.node(id: id) ?? node), pretty: true)
        }
        router.get("/v1/policy") { _, _ in
            guard let p = try coordinator.store.currentPolicy() else {
                throw CoordinatorError(.notFound, "no policy is set: every node may reach every other node (set one with `meshcoord policy set FILE`)")
            }
            return try jsonResponse(AdminPolicy(p), pretty: true)
        }
        router.get("/v1/policy/history") { _, _ in
            let running = coordinator.hub.policyVersion
            return try jsonResponse(try coordinator.store.policyHistory().map {
                AdminPolicyVersion(version: $0.version, createdAt: formatTime($0.createdAt), bytes: $0.text.utf8.count,
                                   running: $0.version == running)
            }, pretty: true)
        }
        router.get("/v1/policy/history/:version") { _, context in
            let raw = context.parameters.get("version") ?? ""
            guard let v = Int64(raw), let p = try coordinator.store.policy(version: v) else {
                throw CoordinatorError(.notFound, "no policy version \"\(raw)\"")
            }
            return try jsonResponse(AdminPolicy(p), pretty: true)
        }
        router.post("/v1/policy/check") { request, _ in
            let text = try await Self.policyText(request)
            let policy = try coordinator.checkPolicy(text)
            return try jsonResponse(Self.summary(policy), pretty: true)
        }
        router.put("/v1/policy") { request, _ in
            let text = try await Self.policyText(request)
            return try jsonResponse(try await coordinator.setPolicy(text), pretty: true)
        }
        router.post("/v1/policy/test") { _, _ in
            guard let p = try coordinator.store.currentPolicy() else {
                throw CoordinatorError(.notFound, "no policy is set, so there are no tests to run")
            }
            do {
                let policy = try coordinator.checkPolicy(p.text)
                return try jsonResponse(AdminPolicyTestResult(passed: true, tests: policy.document.tests.count, version: p.version), pretty: true)
            } catch let e as CoordinatorError {
                let tests = (try? PolicyDocument.parse(p.text))?.tests.count ?? 0
                return try jsonResponse(AdminPolicyTestResult(passed: false, tests: tests, version: p.version, error: e.message), pretty: true)
            }
        }
    }

    static func summary(_ policy: Policy, version: Int64? = nil, changed: Int? = nil) -> AdminPolicyCheck {
        AdminPolicyCheck(nodes: policy.directory.nodes.count, rules: policy.document.rules.count,
                         tests: policy.document.tests.count, version: version, changedNodes: changed)
    }

    static func policyText(_ request: Request) async throws -> String {
        let buffer = try await request.body.collect(upTo: maxPolicyBytes)
        do {
            return try JSONDecoder().decode(AdminPolicyText.self, from: Data(buffer.readableBytesView)).text
        } catch {
            throw CoordinatorError(.malformedJSON, "request body is not a valid AdminPolicyText: \(Self.where_(error))")
        }
    }

    func listUsers() throws -> [AdminUser] {
        var counts: [String: Int] = [:]
        for n in coordinator.hub.allNodes() where n.removedAt == nil { if let u = n.user { counts[u, default: 0] += 1 } }
        return try coordinator.store.users().map { AdminUser(name: $0.name, createdAt: formatTime($0.createdAt), nodes: counts[$0.name] ?? 0) }
    }
}

/// User names as the policy file writes them: `alice` or `alice@example.com` (letters, digits,
/// '-', '_', '.'), so every user can be named in a policy.
enum UserName {
    static func check(_ name: String) throws {
        let parts = name.split(separator: "@", omittingEmptySubsequences: false)
        let ok = name.utf8.count <= 128 && parts.count <= 2 && parts.allSatisfy(isName)
        guard ok else {
            throw CoordinatorError(.invalidName, "\"\(name.prefix(130))\" is not a valid user name: use letters, digits, '-', '_' and '.', optionally @domain (e.g. alice or alice@example.com)")
        }
    }

    static func isName(_ s: Substring) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { c in
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 95 || c == 46
        }
    }
}

extension NetworkHub {
    /// The running policy's document (nil: none set).
    var policyDocument: PolicyDocument? { state.withLock { $0.policy.document } }
}

extension Coordinator {
    /// Puts the stored policy in force at start. It was accepted against the mesh of its day
    /// and users it names cannot be removed, so it binds; if it somehow does not, the
    /// coordinator refuses to start rather than serve the mesh without its policy.
    static func loadPolicy(store: CoordinatorStore, hub: NetworkHub) throws {
        let users = Set(try store.users().map(\.name))
        hub.setUsers(users)
        guard let record = try store.currentPolicy() else { return }
        do {
            let document = try PolicyDocument.parse(record.text)
            guard hub.setPolicy(document, policyVersion: record.version, users: users, version: 0) != nil else {
                throw StartupError("the stored policy (version \(record.version)) names a user the mesh no longer has")
            }
        } catch let e as PolicyError {
            throw StartupError("the stored policy (version \(record.version)) does not parse: \(e)")
        }
    }

    func refreshUsers() throws {
        hub.setUsers(Set(try store.users().map(\.name)))
    }

    /// Parses `text`, binds it to the current nodes and users and runs its tests: what `check`
    /// answers and what `set` requires. A refusal says `line:column: reason`.
    func checkPolicy(_ text: String) throws -> Policy {
        var directory = hub.policyDirectory()
        directory.users.formUnion(try store.users().map(\.name))
        let policy: Policy
        do {
            policy = try Policy.load(text, directory: directory)
        } catch {
            throw CoordinatorError(.badRequest, error.description)
        }
        // A node refuses a filter past its bounds and keeps what it had (or refuses everything):
        // say so here, where the admin can act, instead of in the node's log.
        for (id, filter) in policy.compile().filters.sorted(by: { $0.key < $1.key }) {
            if let problem = HubPolicy.message(filter, policyVersion: nil).boundsProblem {
                let name = directory.nodes.first { $0.id == id }?.name ?? "\(id)"
                throw CoordinatorError(.badRequest, "the policy compiles to more than a node accepts: for \(name), \(problem)")
            }
        }
        return policy
    }

    /// Checks, stores (with its time) and puts a policy in force; every node whose filter or
    /// peer list changed gets it with its next poll answer, which waiting polls send at once.
    func setPolicy(_ text: String) async throws -> AdminPolicyCheck {
        let policy = try checkPolicy(text)
        let users = policy.directory.users
        let hub = self.hub
        let document = policy.document
        let (record, count) = try await store.savePolicy(text: text, now: Self.nowSeconds()) { policyVersion, netmapVersion in
            hub.setPolicy(document, policyVersion: policyVersion, users: users, version: netmapVersion)?.count
        }
        logger.notice("policy set", metadata: ["version": "\(record.version)", "rules": "\(document.rules.count)",
                                               "changed_nodes": "\(count.map(String.init) ?? "none (does not bind)")"])
        return AdminAPI.summary(policy, version: record.version, changed: count)
    }

    /// With a policy set, a tag must be defined in its `tagOwners`, and an auth key's user
    /// must be among the tag's owners (directly or through a group); without one any tag goes.
    func checkTagsAllowed(_ tags: [String], user: String?) throws {
        guard let document = hub.policyDocument else { return }
        for tag in tags {
            guard let owners = document.tagOwners[tag] else {
                throw CoordinatorError(.badRequest, "tag \"\(tag)\" is not defined in the policy's tagOwners")
            }
            guard let user else { continue }
            let owns = owners.contains { owner in
                switch owner.value {
                case .user(let u): return u == user
                case .group(let g): return document.groups[g]?.contains { $0.value == user } ?? false
                default: return false
                }
            }
            guard owns else {
                throw CoordinatorError(.badRequest, "the user \"\(user)\" may not apply \"\(tag)\" (not among its tagOwners)")
            }
        }
    }
}
