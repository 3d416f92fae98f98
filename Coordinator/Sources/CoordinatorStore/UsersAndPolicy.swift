import Foundation
import GRDB

/// A user of the mesh: owns auth keys and, through them, the nodes that joined with them.
public struct UserRecord: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var createdAt: Int64
}

/// One accepted version of the policy file, as the admin wrote it.
public struct PolicyRecord: Sendable, Equatable {
    public var version: Int64
    public var text: String
    public var createdAt: Int64
}

extension CoordinatorStore {
    // MARK: Users

    public func users() throws -> [UserRecord] {
        try guarded { try pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM users ORDER BY name").map(Self.user) } }
    }

    /// The caller has checked the name's syntax; a taken name is a conflict.
    public func createUser(name: String, now: Int64) async throws -> UserRecord {
        try await guarded { try await self.pool.write { db in
            if try Row.fetchOne(db, sql: "SELECT 1 FROM users WHERE name = ?", arguments: [name]) != nil {
                throw CoordinatorError(.nameTaken, "the user \"\(name)\" already exists")
            }
            try db.execute(sql: "INSERT INTO users(name, created_at) VALUES (?, ?)", arguments: [name, now])
            return try Row.fetchOne(db, sql: "SELECT * FROM users WHERE id = ?", arguments: [db.lastInsertedRowID]).map(Self.user)!
        } }
    }

    /// Refuses while nodes that are not removed still belong to the user (they would lose
    /// their identity behind the admin's back); `check` runs inside the writer first, so the
    /// caller can refuse a user the running policy still names.
    public func removeUser(name: String, check: @escaping @Sendable () throws -> Void = {}) async throws -> UserRecord {
        try await guarded { try await self.pool.write { db in
            guard let user = try Row.fetchOne(db, sql: "SELECT * FROM users WHERE name = ?", arguments: [name]).map(Self.user) else {
                throw CoordinatorError(.notFound, "no user \"\(name)\"")
            }
            let nodes = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM nodes WHERE user = ? AND removed_at IS NULL", arguments: [name]) ?? 0
            if nodes > 0 {
                throw CoordinatorError(.badRequest, "the user \"\(name)\" still has \(nodes) node(s): remove them first (meshcoord node remove ID)")
            }
            try check()
            try db.execute(sql: "DELETE FROM users WHERE id = ?", arguments: [user.id])
            return user
        } }
    }

    // MARK: Tags

    /// Sets a node's tags (empty: clears them); peers see the change in their next delta.
    public func setTags(nodeID: Int64, tags: [String], now: Int64) async throws -> NodeRecord {
        try await mutate { db in
            guard let node = try Row.fetchOne(db, sql: "SELECT * FROM nodes WHERE id = ?", arguments: [nodeID]).map(Self.node),
                  node.removedAt == nil else {
                throw CoordinatorError(.notFound, "no node with id \(nodeID)")
            }
            if node.tags == tags { return (node, []) }
            try db.execute(sql: "UPDATE nodes SET tags = ? WHERE id = ?", arguments: [Self.json(tags), nodeID])
            let fresh = try Self.bump(db, nodeID: nodeID, kind: "tags", now: now)
            return (fresh, [fresh])
        }
    }

    // MARK: Policy

    /// The running policy (the last accepted), nil when none was ever set.
    public func currentPolicy() throws -> PolicyRecord? {
        try guarded { try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM policies ORDER BY version DESC LIMIT 1").map(Self.policy)
        } }
    }

    public func policy(version: Int64) throws -> PolicyRecord? {
        try guarded { try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM policies WHERE version = ?", arguments: [version]).map(Self.policy)
        } }
    }

    /// Every accepted version, oldest first.
    public func policyHistory() throws -> [PolicyRecord] {
        try guarded { try pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM policies ORDER BY version").map(Self.policy) } }
    }

    /// Stores an accepted policy and bumps the netmap version in the same transaction. While
    /// still holding the writer (so no node change can come between), `apply` gets the new
    /// policy version and netmap version: that is where the caller recompiles and wakes polls.
    public func savePolicy<T: Sendable>(text: String, now: Int64,
                                        apply: @escaping @Sendable (_ policyVersion: Int64, _ netmapVersion: UInt64) -> T) async throws -> (PolicyRecord, T) {
        try await guarded { try await self.pool.writeWithoutTransaction { db in
            var saved: (PolicyRecord, UInt64)?
            try db.inTransaction(.immediate) {
                try db.execute(sql: "INSERT INTO policies(text, created_at) VALUES (?, ?)", arguments: [text, now])
                let record = try Row.fetchOne(db, sql: "SELECT * FROM policies WHERE version = ?",
                                              arguments: [db.lastInsertedRowID]).map(Self.policy)!
                try db.execute(sql: "UPDATE counters SET value = value + 1 WHERE name = 'version'")
                let v = try Int64.fetchOne(db, sql: "SELECT value FROM counters WHERE name = 'version'")!
                // node_id 0: a change of the policy, not of a node.
                try db.execute(sql: "INSERT INTO changes(version, node_id, kind, at) VALUES (?, 0, 'policy', ?)", arguments: [v, now])
                saved = (record, UInt64(v))
                return .commit
            }
            let (record, version) = saved!
            return (record, apply(record.version, version))
        } }
    }

    /// The migrations this database has been through, in order (for tests and diagnostics).
    public func appliedMigrations() throws -> [String] {
        try guarded { try pool.read { db in try Self.migrator.appliedMigrations(db) } }
    }

    static func user(_ row: Row) -> UserRecord {
        UserRecord(id: row["id"], name: row["name"], createdAt: row["created_at"])
    }

    static func policy(_ row: Row) -> PolicyRecord {
        PolicyRecord(version: row["version"], text: row["text"], createdAt: row["created_at"])
    }
}
