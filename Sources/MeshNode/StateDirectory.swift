#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MeshCrypto
import MeshIO
import MeshWire

/// What a node keeps after a successful registration, so a restart reuses it: the coordinator
/// it belongs to and what that coordinator gave it.
public struct SavedRegistration: Codable, Equatable, Sendable {
    public var coordinatorURL: String
    /// The coordinator's public key, base64.
    public var coordinatorKey: String
    public var nodeID: Int64
    public var name: String
    public var ipv4: String
    public var ipv6: String
    public var ipv4Prefix: String
    public var ipv6Prefix: String
    /// Unix seconds of the registration this records.
    public var registeredAt: Int64

    public init(coordinatorURL: String, coordinatorKey: String, response r: RegisterResponse, registeredAt: Int64) {
        self.coordinatorURL = coordinatorURL
        self.coordinatorKey = coordinatorKey
        nodeID = r.nodeID
        name = r.name
        ipv4 = r.ipv4
        ipv6 = r.ipv6
        ipv4Prefix = r.ipv4Prefix
        ipv6Prefix = r.ipv6Prefix
        self.registeredAt = registeredAt
    }

    /// True when this registration belongs to the coordinator a token names.
    public func matches(_ token: JoinToken) -> Bool {
        coordinatorURL == token.coordinatorURL && coordinatorKey == Base64.encode(token.coordinatorKeyBytes)
    }

    public var coordinatorKeyBytes: [UInt8]? { Base64.decode(coordinatorKey).flatMap { $0.count == 32 ? $0 : nil } }
}

public struct StateError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// The node's state directory (default /var/lib/mesh): `node.key`, the private node key
/// (base64 as `wg genkey` writes it, mode 0600, made at first start and kept forever),
/// `disco.key` (the same for the disco key), `registration.json` and `netmap.json` (the last
/// netmap followed), all mode 0600. The directory itself is mode 0700.
public struct StateDirectory: Sendable {
    public static let defaultPath = "/var/lib/mesh"
    public let path: String
    public var nodeKeyPath: String { path + "/node.key" }
    public var registrationPath: String { path + "/registration.json" }
    public var discoKeyPath: String { path + "/disco.key" }
    public var netmapPath: String { path + "/netmap.json" }
    /// A saved netmap larger than this is not read (the coordinator's own answers are capped
    /// at 64 MiB; a map of 10,000 peers is about 5 MiB).
    public static let netmapByteLimit = 64 << 20

    public init(path: String) { self.path = path }

    public func ensureExists() throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw StateError("cannot create state directory \(path): \(error.localizedDescription)")
        }
    }

    /// The node's private key (32 raw bytes), created on first use.
    public func loadOrCreateNodeKey() throws -> [UInt8] {
        try ensureExists()
        if FileManager.default.fileExists(atPath: nodeKeyPath) {
            guard let text = try? String(contentsOfFile: nodeKeyPath, encoding: .utf8) else {
                throw StateError("cannot read node key \(nodeKeyPath)")
            }
            do {
                return try PrivateKey(base64: text.trimmingCharacters(in: .whitespacesAndNewlines)).rawBytes
            } catch {
                throw StateError("node key \(nodeKeyPath) is damaged (\(error)); move it away to start as a new node")
            }
        }
        var entropy = SystemEntropy()
        let key = PrivateKey.generate(using: &entropy)
        try writePrivate(Array((key.base64 + "\n").utf8), to: nodeKeyPath)
        return key.rawBytes
    }

    /// A warning when the node key can be read (or replaced) by users other than its owner:
    /// whoever reads it can impersonate this node. meshd still starts, as `wg` does, because
    /// refusing would take a working node down over a chmod.
    public func nodeKeyPermissionWarning() -> String? {
        var info = stat()
        guard stat(nodeKeyPath, &info) == 0 else { return nil }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 != 0 else { return nil }
        return "node key \(nodeKeyPath) is accessible to other users (mode \(String(mode, radix: 8))): run chmod 600 \(nodeKeyPath)"
    }

    /// The disco private key, created on first use and kept like the node key: a node
    /// restarted while the coordinator is unreachable must still be recognised by its peers'
    /// disco layer, which only knows the key the last netmap told it.
    public func loadOrCreateDiscoKey() throws -> PrivateKey {
        try ensureExists()
        if FileManager.default.fileExists(atPath: discoKeyPath) {
            guard let text = try? String(contentsOfFile: discoKeyPath, encoding: .utf8),
                  let key = try? PrivateKey(base64: text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw StateError("disco key \(discoKeyPath) is damaged; remove it to make a new one")
            }
            return key
        }
        var entropy = SystemEntropy()
        let key = PrivateKey.generate(using: &entropy)
        try writePrivate(Array((key.base64 + "\n").utf8), to: discoKeyPath)
        return key
    }

    /// The netmap saved under `registration`; nil when there is none, it belongs to another
    /// registration, or it cannot be used (too large or damaged: the coordinator's next
    /// answer replaces it anyway, so that is a warning for the caller, not a failure).
    public func loadNetmap(for registration: SavedRegistration) throws -> NetmapState? {
        var info = stat()
        guard stat(netmapPath, &info) == 0 else { return nil }
        guard info.st_size <= Self.netmapByteLimit else {
            throw StateError("\(netmapPath) is larger than \(Self.netmapByteLimit) bytes; not loaded")
        }
        guard let data = FileManager.default.contents(atPath: netmapPath) else {
            throw StateError("cannot read \(netmapPath)")
        }
        let saved: SavedNetmap
        do { saved = try JSONDecoder().decode(SavedNetmap.self, from: data) } catch {
            throw StateError("\(netmapPath) is damaged (\(error)); not loaded")
        }
        return saved.belongs(to: registration) ? saved.netmap : nil
    }

    public func saveNetmap(_ netmap: NetmapState, for registration: SavedRegistration, now unixSeconds: Int64) throws {
        try ensureExists()
        let bytes = try JSONEncoder().encode(SavedNetmap(registration: registration, netmap: netmap, savedAt: unixSeconds))
        try writePrivate(Array(bytes), to: netmapPath)
    }

    public func removeNetmap() {
        unlink(netmapPath)
    }

    public func loadRegistration() throws -> SavedRegistration? {
        guard FileManager.default.fileExists(atPath: registrationPath) else { return nil }
        guard let data = FileManager.default.contents(atPath: registrationPath) else {
            throw StateError("cannot read \(registrationPath)")
        }
        do { return try JSONDecoder().decode(SavedRegistration.self, from: data) } catch {
            throw StateError("\(registrationPath) is damaged (\(error)); remove it to register anew")
        }
    }

    public func saveRegistration(_ r: SavedRegistration) throws {
        try ensureExists()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writePrivate(Array(try encoder.encode(r)) + [10], to: registrationPath)
    }

    public func removeRegistration() {
        unlink(registrationPath)
    }

    /// Writes a file readable by its owner only, atomically (temp file + rename).
    func writePrivate(_ bytes: [UInt8], to file: String) throws {
        let tmp = file + ".tmp"
        unlink(tmp)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StateError("cannot create \(tmp): \(String(cString: strerror(errno)))") }
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = String(cString: strerror(errno))
                close(fd)
                unlink(tmp)
                throw StateError("cannot write \(tmp): \(e)")
            }
            off += n
        }
        fchmod(fd, 0o600)
        fsync(fd)
        close(fd)
        guard rename(tmp, file) == 0 else {
            let e = String(cString: strerror(errno))
            unlink(tmp)
            throw StateError("cannot rename \(tmp) to \(file): \(e)")
        }
    }
}
