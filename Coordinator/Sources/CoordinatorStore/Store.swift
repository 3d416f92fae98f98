import Foundation
import GRDB
import MeshCrypto
import MeshWire
import Synchronization

/// The coordinator's durable state: SQLite (WAL mode) through a GRDB `DatabasePool`.
///
/// - Every mutation runs in one immediate transaction and is committed before the call returns,
///   so an answered registration survives a SIGKILL.
/// - Every change of a node bumps a persisted netmap version and stamps the node row with it;
///   a delta "since version V" is exactly the nodes whose version is greater than V.
/// - Addresses come from per-prefix counters that only move forward, and node rows are never
///   deleted (removal leaves a tombstone), so an address is never handed out twice.
/// - After each committed change, and still inside the writer's serial section, the change
///   observer sees the new node row: observers therefore see changes in version order.
public final class CoordinatorStore: Sendable {
    public static let databaseFileName = "meshcoord.sqlite"

    public struct Options: Sendable {
        /// nil: 100.64.0.0/10.
        public var ipv4Prefix: OverlayPrefix?
        /// nil: the ULA /48 chosen (at random) at first start and persisted.
        public var ipv6Prefix: OverlayPrefix?
        /// `PRAGMA synchronous = FULL` (default: survives power loss) or NORMAL (survives a
        /// process crash; faster).
        public var synchronousFull: Bool
        public init(ipv4Prefix: OverlayPrefix? = nil, ipv6Prefix: OverlayPrefix? = nil, synchronousFull: Bool = true) {
            self.ipv4Prefix = ipv4Prefix
            self.ipv6Prefix = ipv6Prefix
            self.synchronousFull = synchronousFull
        }
    }

    public let path: String
    public let ipv4Prefix: OverlayPrefix
    public let ipv6Prefix: OverlayPrefix
    let pool: DatabasePool
    /// The closure sits in a struct: read straight out of a `Mutex<closure?>` (`withLock { $0 }`),
    /// Swift 6.3 writes it back wrapped in two more reabstraction thunks on every read, so each
    /// change cost more than the last and ~29,000 changes overflowed the stack (measured with
    /// Benchmarks/coordinator_fanout.py --change policy 10000: SIGSEGV, 58,000 thunk frames).
    private struct ChangeObserver: Sendable { let notify: @Sendable (NodeRecord) -> Void }
    private let observer = Mutex<ChangeObserver?>(nil)

    /// Opens (creating if needed) the database in `directory`. `randomBytes` supplies the
    /// random ULA prefix on first start. Throws `StoreError` with a clear message when the file
    /// is not a database, is corrupted, or cannot be opened or written.
    public init(directory: String, options: Options = Options(), randomBytes: (Int) -> [UInt8]) throws {
        path = (directory as NSString).appendingPathComponent(Self.databaseFileName)
        var config = Configuration()
        config.busyMode = .timeout(10)
        let full = options.synchronousFull
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(full ? "FULL" : "NORMAL")")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: config)
        } catch {
            throw StoreError(Self.explain(error, path: path, directory: directory))
        }
        self.pool = pool
        do {
            let check = try pool.read { db in try String.fetchOne(db, sql: "PRAGMA quick_check") }
            guard check == "ok" else {
                throw StoreError("database \(path) is corrupted (integrity check: \(check ?? "no answer")); " +
                                 "restore it from a backup or move it away to start afresh")
            }
            try Self.migrator.migrate(pool)
            // Prefixes: the configured ones win; the ULA /48 is chosen once and persisted.
            let v4 = options.ipv4Prefix ?? (try! OverlayPrefix(parsing: "100.64.0.0/10"))
            let v6: OverlayPrefix = try pool.write { db in
                if let p = options.ipv6Prefix { return p }
                if let s = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'ula_prefix'"),
                   let p = try? OverlayPrefix(parsing: s) {
                    return p
                }
                let r = randomBytes(5)
                let p = OverlayPrefix(family: .v6, network: [0xFD] + r + [UInt8](repeating: 0, count: 10), length: 48)
                try db.execute(sql: "INSERT OR REPLACE INTO meta(key, value) VALUES ('ula_prefix', ?)", arguments: [p.description])
                return p
            }
            ipv4Prefix = v4
            ipv6Prefix = v6
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(Self.explain(error, path: path, directory: directory))
        }
    }

    static func explain(_ error: Error, path: String, directory: String) -> String {
        if let e = error as? DatabaseError {
            switch e.resultCode {
            case .SQLITE_NOTADB:
                return "\(path) is not an SQLite database (corrupted or overwritten); restore it from a backup or move it away to start afresh"
            case .SQLITE_CORRUPT:
                return "database \(path) is corrupted (\(e.message ?? "")); restore it from a backup or move it away to start afresh"
            case .SQLITE_CANTOPEN:
                return "cannot open database \(path): check that \(directory) exists and is writable by this user"
            case .SQLITE_READONLY, .SQLITE_PERM, .SQLITE_AUTH:
                return "database \(path) is not writable: check the permissions of it and of \(directory)"
            case .SQLITE_FULL:
                return "cannot write database \(path): the disk is full"
            case .SQLITE_IOERR:
                return "I/O error on database \(path): \(e.message ?? "")"
            default:
                return "cannot use database \(path): \(e.message ?? "\(e)")"
            }
        }
        return "cannot use database \(path): \(error)"
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                CREATE TABLE counters (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);
                INSERT INTO counters(name, value) VALUES ('version', 0);
                CREATE TABLE auth_keys (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    secret_hash BLOB NOT NULL UNIQUE,
                    reusable INTEGER NOT NULL,
                    tags TEXT NOT NULL DEFAULT '[]',
                    description TEXT,
                    created_at INTEGER NOT NULL,
                    expires_at INTEGER,
                    revoked_at INTEGER,
                    used_count INTEGER NOT NULL DEFAULT 0,
                    last_used_at INTEGER
                );
                CREATE TABLE nodes (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    node_key TEXT NOT NULL,
                    disco_key TEXT NOT NULL,
                    name TEXT NOT NULL,
                    hostname TEXT NOT NULL,
                    os TEXT NOT NULL,
                    ipv4 TEXT NOT NULL UNIQUE,
                    ipv6 TEXT NOT NULL UNIQUE,
                    endpoints TEXT NOT NULL DEFAULT '[]',
                    home_relay TEXT,
                    tags TEXT NOT NULL DEFAULT '[]',
                    auth_key_id INTEGER REFERENCES auth_keys(id),
                    created_at INTEGER NOT NULL,
                    last_seen INTEGER,
                    online INTEGER NOT NULL DEFAULT 0,
                    expired_at INTEGER,
                    removed_at INTEGER,
                    version INTEGER NOT NULL
                );
                CREATE UNIQUE INDEX nodes_active_node_key ON nodes(node_key) WHERE removed_at IS NULL;
                CREATE UNIQUE INDEX nodes_active_name ON nodes(name) WHERE removed_at IS NULL;
                CREATE INDEX nodes_version ON nodes(version);
                -- Every address ever handed out, per prefix counter: offsets only move forward.
                CREATE TABLE allocator (prefix TEXT PRIMARY KEY NOT NULL, next_offset INTEGER NOT NULL);
                -- What changed at which version (an audit trail; deltas use nodes.version).
                CREATE TABLE changes (
                    version INTEGER PRIMARY KEY,
                    node_id INTEGER NOT NULL,
                    kind TEXT NOT NULL,
                    at INTEGER NOT NULL
                );
                """)
        }
        m.registerMigration("v2-disco-key-index") { db in
            // Not UNIQUE: databases from before the check may hold duplicates; the store checks
            // (inside the writer's transaction) instead. The index keeps that check cheap.
            try db.execute(sql: "CREATE INDEX nodes_active_disco_key ON nodes(disco_key) WHERE removed_at IS NULL AND expired_at IS NULL")
        }
        m.registerMigration("v3-users-policy") { db in
            // Users own auth keys and, through them, nodes (issue 11). Keys and nodes name their
            // user (NULL: tagged or made before users existed). Every accepted policy is kept
            // with when it was accepted; the highest version is the running one.
            try db.execute(sql: """
                CREATE TABLE users (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    name TEXT NOT NULL UNIQUE,
                    created_at INTEGER NOT NULL
                );
                ALTER TABLE auth_keys ADD COLUMN user TEXT;
                ALTER TABLE nodes ADD COLUMN user TEXT;
                CREATE TABLE policies (
                    version INTEGER PRIMARY KEY AUTOINCREMENT,
                    text TEXT NOT NULL,
                    created_at INTEGER NOT NULL
                );
                """)
        }
        return m
    }

    /// Sees every committed node change, in version order. Set once at start.
    public func setChangeObserver(_ f: @escaping @Sendable (NodeRecord) -> Void) {
        observer.withLock { $0 = ChangeObserver(notify: f) }
    }

    public static func hashSecret(_ secret: String) -> [UInt8] {
        BLAKE2s.hash(Array(secret.utf8), key: Array("meshcoord auth key".utf8))
    }

    // MARK: Reading

    public func currentVersion() throws -> UInt64 {
        try guarded { try pool.read { db in UInt64(try Int64.fetchOne(db, sql: "SELECT value FROM counters WHERE name = 'version'") ?? 0) } }
    }

    /// All nodes, tombstones included.
    public func allNodes() throws -> [NodeRecord] {
        try guarded { try pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM nodes ORDER BY id").map(Self.node) } }
    }

    public func node(id: Int64) throws -> NodeRecord? {
        try guarded { try pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM nodes WHERE id = ?", arguments: [id]).map(Self.node) } }
    }

    public func authKeys() throws -> [AuthKeyRecord] {
        try guarded { try pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM auth_keys ORDER BY id").map(Self.authKey) } }
    }

    // MARK: Auth keys

    /// `user`: the user nodes joining with this key belong to (it must exist).
    public func createAuthKey(secret: String, reusable: Bool, expiresAt: Int64?, tags: [String],
                              description: String?, now: Int64, user: String? = nil) async throws -> AuthKeyRecord {
        try await guarded { try await self.pool.write { db in
            if let user, try Row.fetchOne(db, sql: "SELECT 1 FROM users WHERE name = ?", arguments: [user]) == nil {
                throw CoordinatorError(.notFound, "no user \"\(user)\" (make it with `meshcoord user create \(user)`)")
            }
            try db.execute(sql: """
                INSERT INTO auth_keys(secret_hash, reusable, tags, description, created_at, expires_at, user)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [Data(Self.hashSecret(secret)), reusable, Self.json(tags), description, now, expiresAt, user])
            let id = db.lastInsertedRowID
            return try Row.fetchOne(db, sql: "SELECT * FROM auth_keys WHERE id = ?", arguments: [id]).map(Self.authKey)!
        } }
    }

    public func revokeAuthKey(id: Int64, now: Int64) async throws -> AuthKeyRecord {
        try await guarded { try await self.pool.write { db in
            guard try Row.fetchOne(db, sql: "SELECT id FROM auth_keys WHERE id = ?", arguments: [id]) != nil else {
                throw CoordinatorError(.notFound, "no auth key with id \(id)")
            }
            try db.execute(sql: "UPDATE auth_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?", arguments: [now, id])
            return try Row.fetchOne(db, sql: "SELECT * FROM auth_keys WHERE id = ?", arguments: [id]).map(Self.authKey)!
        } }
    }

    // MARK: Node changes

    /// Runs `body` in one immediate transaction; after commit, while still holding the writer,
    /// passes the changed nodes to the observer (in version order).
    func mutate<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> (T, [NodeRecord])) async throws -> T {
        try await guarded { try await self.pool.writeWithoutTransaction { db in
            var result: (T, [NodeRecord])?
            try db.inTransaction(.immediate) {
                result = try body(db)
                return .commit
            }
            let (value, changed) = result!
            if !changed.isEmpty, let f = self.observer.withLock({ $0?.notify }) {
                for n in changed { f(n) }
            }
            return value
        } }
    }

    /// Runs a database call; a failure of the database itself (disk full, I/O error, locked)
    /// becomes a `StoreError` whose description is for the log, so no caller sends SQLite's
    /// text to a client. Refusals (`CoordinatorError`) pass through.
    func guarded<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch { throw storeFailure(error) }
    }

    func guarded<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw storeFailure(error) }
    }

    func storeFailure(_ error: any Error) -> any Error {
        if error is CoordinatorError || error is StoreError || error is CancellationError { return error }
        return StoreError(Self.explain(error, path: path, directory: (path as NSString).deletingLastPathComponent))
    }

    /// Caps the database at `pages` pages (`PRAGMA max_page_count` on the writer): further
    /// growth fails as if the disk were full. Tests use it to reproduce a full disk.
    public func setSizeLimit(pages: Int) async throws {
        try await pool.writeWithoutTransaction { db in
            _ = try Int.fetchOne(db, sql: "PRAGMA max_page_count = \(max(1, pages))")
        }
    }

    /// The database's size in pages.
    public func pageCount() throws -> Int {
        try guarded { try pool.read { db in try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0 } }
    }

    /// Refuses a disco key that another active node holds (see `CoordinatorError.discoKeyInUse`).
    private static func checkDiscoKeyFree(_ db: Database, _ discoKey: String, except nodeID: Int64?) throws {
        let holder = try Int64.fetchOne(db, sql: """
            SELECT id FROM nodes WHERE disco_key = ? AND removed_at IS NULL AND expired_at IS NULL AND id != ? LIMIT 1
            """, arguments: [discoKey, nodeID ?? -1])
        if holder != nil { throw CoordinatorError.discoKeyInUse() }
    }

    /// Bumps the version, stamps the node, logs the change, and returns the fresh row.
    static func bump(_ db: Database, nodeID: Int64, kind: String, now: Int64) throws -> NodeRecord {
        try db.execute(sql: "UPDATE counters SET value = value + 1 WHERE name = 'version'")
        let v = try Int64.fetchOne(db, sql: "SELECT value FROM counters WHERE name = 'version'")!
        try db.execute(sql: "UPDATE nodes SET version = ? WHERE id = ?", arguments: [v, nodeID])
        try db.execute(sql: "INSERT INTO changes(version, node_id, kind, at) VALUES (?, ?, ?, ?)",
                       arguments: [v, nodeID, kind, now])
        if v % 1000 == 0 {
            // Keep the audit trail bounded.
            try db.execute(sql: "DELETE FROM changes WHERE version <= ?", arguments: [v - 100_000])
        }
        return try Row.fetchOne(db, sql: "SELECT * FROM nodes WHERE id = ?", arguments: [nodeID]).map(Self.node)!
    }

    /// Registers `nodeKey` (base64). An active node with this key gets its record back
    /// (re-registration is idempotent: same id, name, addresses). An expired or logged-out node
    /// with this key needs a valid auth key and comes back with the same id and addresses.
    /// A new node needs a valid auth key and gets fresh addresses and a unique name.
    /// The registration is committed before this returns.
    public func register(nodeKey: String, request: RegisterRequest, now: Int64) async throws -> NodeRecord {
        let v4 = ipv4Prefix, v6 = ipv6Prefix
        return try await mutate { db in
            let existing = try Row.fetchOne(db, sql: "SELECT * FROM nodes WHERE node_key = ? AND removed_at IS NULL",
                                            arguments: [nodeKey]).map(Self.node)
            try Self.checkDiscoKeyFree(db, request.discoKey, except: existing?.id)
            if let node = existing, node.expiredAt == nil {
                try db.execute(sql: """
                    UPDATE nodes SET disco_key = ?, os = ?, hostname = ?, last_seen = ?, online = 1 WHERE id = ?
                    """, arguments: [request.discoKey, request.os, request.hostname, now, node.id])
                let fresh = try Self.bump(db, nodeID: node.id, kind: "reregister", now: now)
                return (fresh, [fresh])
            }
            guard let secret = request.authKey, !secret.isEmpty else {
                if existing != nil {
                    throw CoordinatorError(.nodeExpired, "this node key has expired or logged out; register again with an auth key")
                }
                throw CoordinatorError(.authKeyMissing, "an auth key is required to register a new node")
            }
            let key = try Self.consumeAuthKey(db, secret: secret, now: now)
            if let node = existing {
                try db.execute(sql: """
                    UPDATE nodes SET disco_key = ?, os = ?, hostname = ?, last_seen = ?, online = 1,
                        expired_at = NULL, tags = ?, auth_key_id = ?, user = ? WHERE id = ?
                    """, arguments: [request.discoKey, request.os, request.hostname, now, Self.json(key.tags), key.id, key.user, node.id])
                let fresh = try Self.bump(db, nodeID: node.id, kind: "reauthenticate", now: now)
                return (fresh, [fresh])
            }
            let ipv4 = try Self.allocate(db, prefix: v4, column: "ipv4")
            let ipv6 = try Self.allocate(db, prefix: v6, column: "ipv6")
            let base = NodeName.sanitize(request.hostname)
            let taken = Set(try String.fetchAll(db, sql: """
                SELECT name FROM nodes WHERE removed_at IS NULL AND (name = ? OR name LIKE ? ESCAPE '\\')
                """, arguments: [base, Self.likePrefix(String(base.prefix(50))) + "%"]))
            let name = NodeName.unique(base, taken: taken)
            try db.execute(sql: """
                INSERT INTO nodes(node_key, disco_key, name, hostname, os, ipv4, ipv6, tags, auth_key_id,
                                  created_at, last_seen, online, version, user)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0, ?)
                """, arguments: [nodeKey, request.discoKey, name, request.hostname, request.os, ipv4, ipv6,
                                 Self.json(key.tags), key.id, now, now, key.user])
            let fresh = try Self.bump(db, nodeID: db.lastInsertedRowID, kind: "join", now: now)
            return (fresh, [fresh])
        }
    }

    private static func likePrefix(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
    }

    private static func consumeAuthKey(_ db: Database, secret: String, now: Int64) throws -> AuthKeyRecord {
        guard let key = try Row.fetchOne(db, sql: "SELECT * FROM auth_keys WHERE secret_hash = ?",
                                         arguments: [Data(hashSecret(secret))]).map(authKey) else {
            throw CoordinatorError(.authKeyUnknown, "auth key is not known to this coordinator (mistyped, or made by another coordinator?)")
        }
        if key.revokedAt != nil {
            throw CoordinatorError(.authKeyRevoked, "auth key \(key.id) has been revoked")
        }
        if !key.reusable && key.usedCount > 0 {
            throw CoordinatorError(.authKeyUsed, "auth key \(key.id) is single-use and has already been used")
        }
        if let e = key.expiresAt, e <= now {
            throw CoordinatorError(.authKeyExpired, "auth key \(key.id) expired at \(formatTime(e))")
        }
        if let user = key.user, try Row.fetchOne(db, sql: "SELECT 1 FROM users WHERE name = ?", arguments: [user]) == nil {
            throw CoordinatorError(.authKeyRevoked, "auth key \(key.id) belongs to the user \"\(user)\", who has been removed")
        }
        try db.execute(sql: "UPDATE auth_keys SET used_count = used_count + 1, last_used_at = ? WHERE id = ?",
                       arguments: [now, key.id])
        return key
    }

    /// The next never-used address of `prefix`. The counter only moves forward and node rows are
    /// never deleted, so an address is never handed out twice, even after removal.
    private static func allocate(_ db: Database, prefix: OverlayPrefix, column: String) throws -> String {
        let key = prefix.description
        var offset = try Int64.fetchOne(db, sql: "SELECT next_offset FROM allocator WHERE prefix = ?", arguments: [key]) ?? 1
        while true {
            guard let addr = prefix.address(atOffset: UInt64(offset)) else {
                throw CoordinatorError(.addressPoolExhausted, "no free addresses left in \(key)")
            }
            offset += 1
            if prefix.family == .v4 {
                // Skip .0 and .255 (some tools treat them as network/broadcast) and the
                // prefix's last address.
                let last = addr.split(separator: ".").last
                if last == "0" || last == "255" || prefix.address(atOffset: UInt64(offset)) == nil { continue }
            }
            if try Row.fetchOne(db, sql: "SELECT 1 FROM nodes WHERE \(column) = ?", arguments: [addr]) != nil { continue }
            try db.execute(sql: "INSERT OR REPLACE INTO allocator(prefix, next_offset) VALUES (?, ?)", arguments: [key, offset])
            return addr
        }
    }

    public struct NodeUpdate: Sendable {
        public var endpoints: [String]?
        public var homeRelay: String??
        public var discoKey: String?
        public var online: Bool?
        public var lastSeen: Int64?
        public init(endpoints: [String]? = nil, homeRelay: String?? = nil, discoKey: String? = nil,
                    online: Bool? = nil, lastSeen: Int64? = nil) {
            self.endpoints = endpoints
            self.homeRelay = homeRelay
            self.discoKey = discoKey
            self.online = online
            self.lastSeen = lastSeen
        }
    }

    /// Applies what differs; returns the new row, or nil when nothing netmap-relevant changed
    /// (then no version is used). Throws `nodeUnknown`/`nodeExpired` for inactive nodes.
    public func update(nodeID: Int64, _ u: NodeUpdate, now: Int64) async throws -> NodeRecord? {
        try await mutate { db in
            guard let node = try Row.fetchOne(db, sql: "SELECT * FROM nodes WHERE id = ?", arguments: [nodeID]).map(Self.node),
                  node.removedAt == nil else {
                throw CoordinatorError(.nodeUnknown, "node \(nodeID) is not registered")
            }
            guard node.expiredAt == nil else {
                throw CoordinatorError(.nodeExpired, "node \(nodeID) has expired or logged out; register again with an auth key")
            }
            var sets: [String] = []
            var args: [(any DatabaseValueConvertible)?] = []
            if let e = u.endpoints, e != node.endpoints { sets.append("endpoints = ?"); args.append(Self.json(e)) }
            if let h = u.homeRelay, h != node.homeRelay { sets.append("home_relay = ?"); args.append(h) }
            if let d = u.discoKey, d != node.discoKey {
                try Self.checkDiscoKeyFree(db, d, except: nodeID)
                sets.append("disco_key = ?")
                args.append(d)
            }
            if let o = u.online, o != node.online { sets.append("online = ?"); args.append(o) }
            let relevant = !sets.isEmpty
            if let s = u.lastSeen { sets.append("last_seen = ?"); args.append(s) }
            guard !sets.isEmpty else { return (nil, []) }
            args.append(nodeID)
            try db.execute(sql: "UPDATE nodes SET \(sets.joined(separator: ", ")) WHERE id = ?",
                           arguments: StatementArguments(args))
            guard relevant else { return (nil, []) }
            let fresh = try Self.bump(db, nodeID: nodeID, kind: "update", now: now)
            return (fresh, [fresh])
        }
    }

    /// Persists last-seen times in one transaction without bumping the version.
    public func recordLastSeen(_ times: [(Int64, Int64)]) async throws {
        guard !times.isEmpty else { return }
        try await guarded { try await self.pool.write { db in
            for (id, t) in times {
                try db.execute(sql: "UPDATE nodes SET last_seen = MAX(COALESCE(last_seen, 0), ?) WHERE id = ?", arguments: [t, id])
            }
        } }
    }

    public func rename(nodeID: Int64, to name: String, now: Int64) async throws -> NodeRecord {
        guard NodeName.isValid(name) else {
            throw CoordinatorError(.invalidName, "\"\(name)\" is not a valid name: use 1-63 lowercase letters, digits and '-', " +
                                   "not starting or ending with '-' (e.g. \"\(NodeName.sanitize(name))\")")
        }
        return try await mutate { db in
            let node = try Self.activeNode(db, nodeID, allowExpired: true)
            if node.name == name { return (node, []) }
            if try Row.fetchOne(db, sql: "SELECT 1 FROM nodes WHERE name = ? AND removed_at IS NULL", arguments: [name]) != nil {
                throw CoordinatorError(.nameTaken, "the name \"\(name)\" is already used by another node")
            }
            try db.execute(sql: "UPDATE nodes SET name = ? WHERE id = ?", arguments: [name, nodeID])
            let fresh = try Self.bump(db, nodeID: nodeID, kind: "rename", now: now)
            return (fresh, [fresh])
        }
    }

    /// Expires a node (admin) or logs it out (node): it leaves every netmap and must register
    /// again with an auth key; it keeps its id, name and addresses.
    public func expire(nodeID: Int64, now: Int64, kind: String = "expire") async throws -> NodeRecord {
        try await mutate { db in
            let node = try Self.activeNode(db, nodeID, allowExpired: true)
            if node.expiredAt != nil { return (node, []) }
            try db.execute(sql: "UPDATE nodes SET expired_at = ?, online = 0 WHERE id = ?", arguments: [now, nodeID])
            let fresh = try Self.bump(db, nodeID: nodeID, kind: kind, now: now)
            return (fresh, [fresh])
        }
    }

    /// Removes a node for good: its row stays as a tombstone so its id and addresses are never
    /// reused; its key and name become free.
    public func remove(nodeID: Int64, now: Int64) async throws -> NodeRecord {
        try await mutate { db in
            _ = try Self.activeNode(db, nodeID, allowExpired: true)
            try db.execute(sql: "UPDATE nodes SET removed_at = ?, online = 0 WHERE id = ?", arguments: [now, nodeID])
            let fresh = try Self.bump(db, nodeID: nodeID, kind: "remove", now: now)
            return (fresh, [fresh])
        }
    }

    private static func activeNode(_ db: Database, _ id: Int64, allowExpired: Bool) throws -> NodeRecord {
        guard let node = try Row.fetchOne(db, sql: "SELECT * FROM nodes WHERE id = ?", arguments: [id]).map(Self.node),
              node.removedAt == nil else {
            throw CoordinatorError(.notFound, "no node with id \(id)")
        }
        if !allowExpired && node.expiredAt != nil {
            throw CoordinatorError(.nodeExpired, "node \(id) has expired")
        }
        return node
    }

    // MARK: Row mapping

    static func node(_ row: Row) -> NodeRecord {
        NodeRecord(id: row["id"], nodeKey: row["node_key"], discoKey: row["disco_key"], name: row["name"],
                   hostname: row["hostname"], os: row["os"], ipv4: row["ipv4"], ipv6: row["ipv6"],
                   endpoints: strings(row["endpoints"]), homeRelay: row["home_relay"], tags: strings(row["tags"]),
                   authKeyID: row["auth_key_id"], createdAt: row["created_at"], lastSeen: row["last_seen"],
                   online: row["online"], expiredAt: row["expired_at"], removedAt: row["removed_at"],
                   version: UInt64(row["version"] as Int64), user: row["user"])
    }

    static func authKey(_ row: Row) -> AuthKeyRecord {
        AuthKeyRecord(id: row["id"], reusable: row["reusable"], tags: strings(row["tags"]), createdAt: row["created_at"],
                      expiresAt: row["expires_at"], revokedAt: row["revoked_at"], usedCount: row["used_count"],
                      lastUsedAt: row["last_used_at"], description: row["description"], user: row["user"])
    }

    static func json(_ a: [String]) -> String {
        String(decoding: try! JSONEncoder().encode(a), as: UTF8.self)
    }

    static func strings(_ s: String?) -> [String] {
        guard let s, let d = s.data(using: .utf8) else { return [] }
        return (try? JSONDecoder().decode([String].self, from: d)) ?? []
    }
}

/// RFC 3339 UTC, second precision.
public func formatTime(_ unix: Int64) -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime]
    return f.string(from: Date(timeIntervalSince1970: TimeInterval(unix)))
}
