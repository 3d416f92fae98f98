#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import MeshDNS
import Synchronization

/// The file I/O of managing /etc/resolv.conf (`meshd up --manage-resolv-conf`); what to write
/// and whether a restore may happen are MeshDNS's (`ResolvConfTakeover`, `ResolvConfRestore`).
///
/// Before the file is touched its bytes are in the state directory (`resolv.conf.original`,
/// fsynced, and the directory too), then what meshd is about to write (`resolv.conf.managed`):
/// a crash at any point leaves enough there for the next start to put the original back, or
/// to see that someone else has replaced the file since. The file itself is rewritten in place
/// (open O_WRONLY|O_TRUNC, write, fsync), never renamed over: under `ip netns exec`, in
/// containers and on some distributions /etc/resolv.conf is a bind mount, which a rename
/// cannot replace (EBUSY), and rewriting keeps its owner, mode and any symlink pointing at it.
public final class ResolvConfManager: Sendable {
    public static let defaultPath = "/etc/resolv.conf"
    public let path: String
    public let dnsAddress: String
    let backupPath: String
    let writtenPath: String
    /// Where a backup goes when the file changed under meshd: the admin may still want it.
    let supersededPath: String
    let stateDirectory: StateDirectory
    let logger: Logger

    private struct Managed {
        var original: [UInt8]
        var written: [UInt8]
    }
    private let managed = Mutex<Managed?>(nil)

    public init(stateDirectory: StateDirectory, dnsAddress: String, path: String = ResolvConfManager.defaultPath,
                logger: Logger) {
        self.stateDirectory = stateDirectory
        self.dnsAddress = dnsAddress
        self.path = path
        backupPath = stateDirectory.path + "/resolv.conf.original"
        writtenPath = stateDirectory.path + "/resolv.conf.managed"
        supersededPath = stateDirectory.path + "/resolv.conf.original.superseded"
        self.logger = logger
    }

    public var isManaging: Bool { managed.withLock { $0 != nil } }

    /// At start, before anything asks the resolver: a backup left by a run that did not stop
    /// (SIGKILL, a crash, power loss) is put back, whether or not this run manages the file.
    /// Returns true when there was one.
    @discardableResult
    public func recoverAfterCrash() -> Bool {
        let original: [UInt8]
        do {
            guard let bytes = try Self.readBytes(backupPath) else {
                unlink(writtenPath)
                return false
            }
            original = bytes
        } catch {
            logger.error("resolv.conf: the backup \(backupPath) cannot be read (\(error)); \(path) left as it is")
            return false
        }
        let written = try? Self.readBytes(writtenPath)
        logger.notice("resolv.conf: a backup from a run that did not stop is in \(backupPath); restoring \(path)")
        hand(back: Managed(original: original, written: written ?? []), recordComplete: written != nil)
        return true
    }

    /// Takes the file over: backup, record, rewrite. Returns the resolvers to forward to (from
    /// the original), or nil when the file was left alone (the reason is logged). Managing
    /// already: the upstreams of the original, and the file stays as it was written.
    public func manage(domain: String) -> HostResolvers? {
        managed.withLock { state -> HostResolvers? in
            if let s = state {
                let original = ResolvConf(parsing: String(decoding: s.original, as: UTF8.self))
                return HostResolvers(original: original, excluding: dnsAddress)
            }
            let current: [UInt8]
            do {
                guard let bytes = try Self.readBytes(path) else {
                    logger.error("resolv.conf: \(path) does not exist; not managed")
                    return nil
                }
                current = bytes
            } catch {
                logger.error("resolv.conf: \(path) cannot be read (\(error)); not managed")
                return nil
            }
            switch ResolvConfTakeover.plan(current: current, dnsAddress: dnsAddress, domain: domain) {
            case .refuse(let reason):
                logger.error("resolv.conf: \(path) not managed: \(reason)")
                return nil
            case .manage(let bytes, let upstreams):
                do {
                    try stateDirectory.ensureExists()
                    try stateDirectory.writePrivate(current, to: backupPath)
                    try stateDirectory.writePrivate(bytes, to: writtenPath)
                    try Self.syncDirectory(stateDirectory.path)
                } catch {
                    unlink(writtenPath)
                    unlink(backupPath)
                    logger.error("resolv.conf: the backup could not be saved (\(error)); \(path) not managed")
                    return nil
                }
                do {
                    try Self.rewriteInPlace(path, bytes)
                } catch {
                    logger.error("resolv.conf: \(path) could not be rewritten (\(error)); putting the original back")
                    hand(back: Managed(original: current, written: bytes), recordComplete: true)
                    return nil
                }
                state = Managed(original: current, written: bytes)
                logger.notice("resolv.conf: \(path) now names MagicDNS \(dnsAddress) (search \(domain) first); the original (\(current.count) bytes) is in \(backupPath), its resolvers \(upstreams.nameservers.joined(separator: " ")) take the other names")
                return upstreams
            }
        }
    }

    /// Gives the file back (`meshctl down`, exit): the original, unless someone replaced the
    /// file meanwhile. Nothing happens when meshd is not managing it.
    public func release() {
        managed.withLock { state in
            guard let s = state else { return }
            hand(back: s, recordComplete: true)
            state = nil
        }
    }

    /// The restore itself; the backup and record go only once the file is settled.
    /// `recordComplete` false: no record of a write, so meshd never began one.
    private func hand(back s: Managed, recordComplete: Bool) {
        let current: [UInt8]?
        do { current = try Self.readBytes(path) } catch {
            logger.error("resolv.conf: \(path) cannot be read (\(error)); the backup stays in \(backupPath)")
            return
        }
        switch ResolvConfRestore.decide(original: s.original, written: recordComplete ? s.written : nil, current: current) {
        case .writeOriginal:
            do { try Self.rewriteInPlace(path, s.original) } catch {
                logger.error("resolv.conf: the original could not be written back to \(path) (\(error)); it stays in \(backupPath)")
                return
            }
            logger.notice("resolv.conf: \(path) restored (\(s.original.count) bytes, as they were)")
        case .alreadyOriginal:
            logger.info("resolv.conf: \(path) already holds the original")
        case .keepTheirs:
            rename(backupPath, supersededPath)
            logger.warning("resolv.conf: \(path) was \(current == nil ? "removed" : "rewritten by someone else") while meshd managed it; theirs stays, meshd's backup of the earlier file is in \(supersededPath)")
        }
        unlink(writtenPath)
        unlink(backupPath)
        try? Self.syncDirectory(stateDirectory.path)
    }

    // MARK: - File I/O

    struct FileError: Error, CustomStringConvertible {
        var description: String
    }

    /// The file's bytes, at most `ResolvConfTakeover.byteLimit` + 1 of them; nil when absent.
    static func readBytes(_ path: String) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw FileError(description: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        let limit = ResolvConfTakeover.byteLimit + 1
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < limit {
            let want = min(chunk.count, limit - bytes.count)
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, want) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(description: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            bytes += chunk[0..<n]
        }
        return bytes
    }

    /// O_TRUNC and write into the same inode (no O_CREAT: a file that went away stays away).
    static func rewriteInPlace(_ path: String, _ bytes: [UInt8]) throws {
        let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(description: "open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(description: "write: \(String(cString: strerror(errno)))")
            }
            off += n
        }
        guard fsync(fd) == 0 else { throw FileError(description: "fsync: \(String(cString: strerror(errno)))") }
    }

    /// A rename is durable only once its directory is.
    static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(description: "open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw FileError(description: "fsync \(path): \(String(cString: strerror(errno)))") }
    }
}
