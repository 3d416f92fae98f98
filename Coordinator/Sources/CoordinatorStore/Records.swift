import MeshWire

/// A node as the store keeps it. Rows are never deleted: a removed node stays as a tombstone
/// so its id and addresses are never handed out again.
public struct NodeRecord: Sendable, Equatable {
    public var id: Int64
    public var nodeKey: String
    public var discoKey: String
    public var name: String
    public var hostname: String
    public var os: String
    public var ipv4: String
    public var ipv6: String
    public var endpoints: [String]
    public var homeRelay: String?
    public var tags: [String]
    public var authKeyID: Int64?
    public var createdAt: Int64
    public var lastSeen: Int64?
    public var online: Bool
    public var expiredAt: Int64?
    public var removedAt: Int64?
    /// The netmap version of this node's last change.
    public var version: UInt64
    /// The user the node belongs to (from its auth key); nil for nodes made before users.
    public var user: String? = nil

    public init(id: Int64, nodeKey: String, discoKey: String, name: String, hostname: String, os: String,
                ipv4: String, ipv6: String, endpoints: [String], homeRelay: String?, tags: [String], authKeyID: Int64?,
                createdAt: Int64, lastSeen: Int64?, online: Bool, expiredAt: Int64?, removedAt: Int64?,
                version: UInt64, user: String? = nil) {
        self.id = id
        self.nodeKey = nodeKey
        self.discoKey = discoKey
        self.name = name
        self.hostname = hostname
        self.os = os
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.endpoints = endpoints
        self.homeRelay = homeRelay
        self.tags = tags
        self.authKeyID = authKeyID
        self.createdAt = createdAt
        self.lastSeen = lastSeen
        self.online = online
        self.expiredAt = expiredAt
        self.removedAt = removedAt
        self.version = version
        self.user = user
    }

    /// In the netmap (neither expired nor removed).
    public var isActive: Bool { expiredAt == nil && removedAt == nil }

    public var nodeInfo: NodeInfo {
        NodeInfo(id: id, name: name, nodeKey: nodeKey, discoKey: discoKey, ipv4: ipv4, ipv6: ipv6,
                 endpoints: endpoints, homeRelay: homeRelay, online: online, lastSeen: lastSeen,
                 tags: tags, os: os, user: tags.isEmpty ? user : nil)
    }
}

public struct AuthKeyRecord: Sendable, Equatable {
    public var id: Int64
    public var reusable: Bool
    public var tags: [String]
    public var createdAt: Int64
    public var expiresAt: Int64?
    public var revokedAt: Int64?
    public var usedCount: Int64
    public var lastUsedAt: Int64?
    public var description: String?
    /// The user nodes joining with this key belong to.
    public var user: String? = nil

    /// "valid", "expired", "revoked" or "used".
    public func state(now: Int64) -> String {
        if revokedAt != nil { return "revoked" }
        if !reusable && usedCount > 0 { return "used" }
        if let e = expiresAt, e <= now { return "expired" }
        return "valid"
    }
}

/// A refusal the coordinator reports to its client with a code and a clear message.
public struct CoordinatorError: Error, Equatable, CustomStringConvertible {
    /// Decides the HTTP status and is the answer's `code`.
    public var code: ErrorCode
    public var message: String
    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { message }
    public var errorBody: ErrorBody { ErrorBody(code, message) }

    /// Another node already holds this disco key. Disco keys are public (every peer sees
    /// them in its netmap), so without this check a registered node could register a second
    /// node under its victim's disco key; peers then file the victim's disco traffic under
    /// the clone and the victim falls back to relay (409 `disco_key_in_use`).
    public static func discoKeyInUse() -> CoordinatorError {
        CoordinatorError(.discoKeyInUse, "this disco key is already used by another node: each node needs its own disco key")
    }
}

/// A store that cannot be opened or used: reported at start as a one-line error. While
/// serving, the description (which may hold SQLite's own text and paths) goes to the log only;
/// clients get a generic "unavailable" answer.
public struct StoreError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
