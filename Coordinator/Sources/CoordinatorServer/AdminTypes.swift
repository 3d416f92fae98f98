import CoordinatorStore
import Foundation
import MeshWire

// JSON bodies of the admin API (unix socket; see Coordinator/openapi-admin.yaml).
// Times are RFC 3339 strings (UTC).

public struct AdminHealth: Codable, Sendable {
    public var status: String
    public var netmapVersion: UInt64
    public var nodes: Int
    public var onlineNodes: Int
    public var waitingPolls: Int
    public var uptimeSeconds: Int64
    public var publicURL: String
    public var coordinatorKey: String
    public var ipv4Prefix: String
    public var ipv6Prefix: String
    public var stunPorts: [Int]
    public var stunRunning: Bool
}

public struct AdminCreateAuthKeyRequest: Codable, Sendable {
    public var reusable: Bool?
    /// Seconds until the key expires; nil or 0 means it never expires.
    public var expirySeconds: Int64?
    /// 100 years: longer is a typo, and keeps `now + expirySeconds` far from overflowing.
    public static let maxExpirySeconds: Int64 = 100 * 365 * 86400
    public var tags: [String]?
    public var description: String?
    /// The user nodes joining with the key belong to (it must exist).
    public var user: String?
    public init(reusable: Bool? = nil, expirySeconds: Int64? = nil, tags: [String]? = nil, description: String? = nil,
                user: String? = nil) {
        self.reusable = reusable
        self.expirySeconds = expirySeconds
        self.tags = tags
        self.description = description
        self.user = user
    }
}

public struct AdminAuthKey: Codable, Sendable, Equatable {
    public var id: Int64
    public var reusable: Bool
    public var tags: [String]
    public var description: String?
    public var createdAt: String
    public var expiresAt: String?
    public var revokedAt: String?
    public var usedCount: Int64
    public var lastUsedAt: String?
    /// "valid", "expired", "revoked" or "used".
    public var state: String
    public var user: String?

    init(_ r: AuthKeyRecord, now: Int64) {
        id = r.id
        user = r.user
        reusable = r.reusable
        tags = r.tags
        description = r.description
        createdAt = formatTime(r.createdAt)
        expiresAt = r.expiresAt.map(formatTime)
        revokedAt = r.revokedAt.map(formatTime)
        usedCount = r.usedCount
        lastUsedAt = r.lastUsedAt.map(formatTime)
        state = r.state(now: now)
    }
}

public struct AdminCreateAuthKeyResponse: Codable, Sendable {
    public var authKey: AdminAuthKey
    /// The join token: give it to `meshd up --join TOKEN`. Shown once; only a hash is stored.
    public var token: String
}

public struct AdminNode: Codable, Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var hostname: String
    public var os: String
    public var ipv4: String
    public var ipv6: String
    public var nodeKey: String
    public var discoKey: String
    public var endpoints: [String]
    public var homeRelay: String?
    public var tags: [String]
    public var online: Bool
    public var lastSeen: String?
    public var createdAt: String
    /// "active" or "expired" (expired by the admin or logged out by the node).
    public var state: String
    public var expiredAt: String?
    public var authKeyID: Int64?
    public var user: String?

    init(_ n: NodeRecord) {
        id = n.id
        user = n.user
        name = n.name
        hostname = n.hostname
        os = n.os
        ipv4 = n.ipv4
        ipv6 = n.ipv6
        nodeKey = n.nodeKey
        discoKey = n.discoKey
        endpoints = n.endpoints
        homeRelay = n.homeRelay
        tags = n.tags
        online = n.online && n.isActive
        lastSeen = n.lastSeen.map(formatTime)
        createdAt = formatTime(n.createdAt)
        state = n.expiredAt == nil ? "active" : "expired"
        expiredAt = n.expiredAt.map(formatTime)
        authKeyID = n.authKeyID
    }
}

public struct AdminRenameRequest: Codable, Sendable {
    public var name: String
    public init(name: String) { self.name = name }
}
