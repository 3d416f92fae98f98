import CoordinatorStore
import Foundation

// JSON bodies of the admin API's users, tags and policy endpoints (issue 11; see
// Coordinator/openapi-admin.yaml). Times are RFC 3339 strings (UTC).

public struct AdminUser: Codable, Sendable, Equatable {
    public var name: String
    public var createdAt: String
    /// Nodes (not removed) that belong to the user.
    public var nodes: Int
}

public struct AdminCreateUserRequest: Codable, Sendable {
    public var name: String
    public init(name: String) { self.name = name }
}

public struct AdminSetTagsRequest: Codable, Sendable {
    /// Full tag names (`tag:db`); empty clears the node's tags.
    public var tags: [String]
    public init(tags: [String]) { self.tags = tags }
}

/// A policy file's text, for `set` and `check`.
public struct AdminPolicyText: Codable, Sendable {
    public var text: String
    public init(text: String) { self.text = text }
}

public struct AdminPolicy: Codable, Sendable, Equatable {
    public var version: Int64
    public var createdAt: String
    public var text: String

    init(_ r: PolicyRecord) {
        version = r.version
        createdAt = formatTime(r.createdAt)
        text = r.text
    }
}

public struct AdminPolicyVersion: Codable, Sendable, Equatable {
    public var version: Int64
    public var createdAt: String
    public var bytes: Int
    /// The version in force now.
    public var running: Bool
}

/// What `check` and `set` found: the policy binds to the mesh and its tests pass.
public struct AdminPolicyCheck: Codable, Sendable, Equatable {
    public var nodes: Int
    public var rules: Int
    public var tests: Int
    /// `set` only: the stored version, and how many nodes' filter or peer list changed.
    public var version: Int64?
    public var changedNodes: Int?
}

/// `policy test`: the running policy's own tests against the current nodes.
public struct AdminPolicyTestResult: Codable, Sendable, Equatable {
    public var passed: Bool
    public var tests: Int
    public var version: Int64
    /// `line:column: reason` of the first failure.
    public var error: String?
}
