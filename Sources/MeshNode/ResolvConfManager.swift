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
    /// A rewrite for a new domain under way: recorded here before the file is touched, renamed
    /// over `writtenPath` once it is done.
    let nextPath: String
    /// Where a backup goes when the file changed under meshd: the admin may still want it.
    let supersededPath: String
    let stateDirectory: StateDirectory
    let logger: Logger

    private struct Managed {
        var original: [UInt8]
        var written: [UInt8]
        /// The domain `written` searches first.
        var domain: String
    }
    private let managed = Mutex<Managed?>(nil)

    public init(stateDirectory: StateDirectory, dnsAddress: String, path: String = ResolvConfManager.defaultPath,
                logger: Logger) {
        self.stateDirectory = stateDirectory
        self.dnsAddress = dnsAddress
        self.path = path
        backupPath = stateDirectory.path + "/resolv.conf.original"
        writtenPath = stateDirectory.path + "/resolv.conf.managed"
        nextPath = stateDirectory.path + "/resolv.conf.managed.next"
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
                unlink(nextPath)
                return false
            }
            original = bytes
        } catch {
            logger.error("resolv.conf: the backup \(backupPath) cannot be read (\(error)); \(path) left as it is")
            return false
        }
        let written = [writtenPath, nextPath].compactMap { (try? Self.readBytes($0)) ?? nil }
        logger.notice("resolv.conf: a backup from a run that did not stop is in \(backupPath); restoring \(path)")
        hand(back: original, written: written)
        return true
    }

    /// Takes the file over: backup, record, rewrite. Returns the resolvers to forward to (from
    /// the original), or nil when the file was left alone (the reason is logged). Managing
    /// already: the upstreams of the original; the file is written again only for another
    /// domain (the netmap's changed), and only while it still holds what meshd wrote.
    public func manage(domain: String) -> HostResolvers? {
        managed.withLock { state -> HostResolvers? in
            if var s = state {
                let original = ResolvConf(parsing: String(decoding: s.original, as: UTF8.self))
                if s.domain != domain { redo(&s, original: original, domain: domain) }
                state = s
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
                    hand(back: current, written: [bytes])
                    return nil
                }
                state = Managed(original: current, written: bytes, domain: domain)
                logger.notice("resolv.conf: \(path) now names MagicDNS \(dnsAddress) (search \(domain) first); the original (\(current.count) bytes) is in \(backupPath), its resolvers \(upstreams.nameservers.joined(separator: " ")) take the other names")
                return upstreams
            }
        }
    }

    /// The managed file for a new domain: recorded first, then written in place, as at takeover.
    private func redo(_ s: inout Managed, original: ResolvConf, domain: String) {
        let bytes = Array(ResolvConf.managed(dnsAddress: dnsAddress, domain: domain, original: original).utf8)
        guard (try? Self.readBytes(path)) == s.written else {
            logger.warning("resolv.conf: \(path) was changed by someone else; not rewritten for the domain \(domain)")
            s.domain = domain
            return
        }
        do {
            try stateDirectory.writePrivate(bytes, to: nextPath)
            try Self.syncDirectory(stateDirectory.path)
        } catch {
            unlink(nextPath)
            logger.error("resolv.conf: \(path) not rewritten for the domain \(domain): \(error)")
            return
        }
        do { try Self.rewriteInPlace(path, bytes) } catch {
            // Old, new or part of either: both stay recorded for the restore.
            logger.error("resolv.conf: \(path) not rewritten for the domain \(domain): \(error)")
            return
        }
        rename(nextPath, writtenPath)
        try? Self.syncDirectory(stateDirectory.path)
        s.written = bytes
        s.domain = domain
        logger.notice("resolv.conf: \(path) now searches \(domain) first (the netmap's domain)")
    }

    /// Gives the file back (`meshctl down`, exit): the original, unless someone replaced the
    /// file meanwhile. Nothing happens when meshd is not managing it.
    public func release() {
        managed.withLock { state in
            guard let s = state else { return }
            hand(back: s.original, written: recordedWrites(besides: s.written))
            state = nil
        }
    }

    /// What meshd wrote, and any rewrite it recorded but may not have finished.
    private func recordedWrites(besides written: [UInt8]) -> [[UInt8]] {
        var all = [written]
        for file in [writtenPath, nextPath] {
            if let bytes = (try? Self.readBytes(file)) ?? nil, !all.contains(bytes) { all.append(bytes) }
        }
        return all
    }

    /// The restore itself; the backup and records go only once the file is settled.
    /// `written`: every content meshd recorded (none: it never began a write).
    private func hand(back original: [UInt8], written: [[UInt8]]) {
        let current: [UInt8]?
        do { current = try Self.readBytes(path) } catch {
            logger.error("resolv.conf: \(path) cannot be read (\(error)); the backup stays in \(backupPath)")
            return
        }
        switch ResolvConfRestore.decide(original: original, written: written, current: current) {
        case .writeOriginal:
            do { try Self.rewriteInPlace(path, original) } catch {
                logger.error("resolv.conf: the original could not be written back to \(path) (\(error)); it stays in \(backupPath)")
                return
            }
            logger.notice("resolv.conf: \(path) restored (\(original.count) bytes, as they were)")
        case .alreadyOriginal:
            logger.info("resolv.conf: \(path) already holds the original")
        case .keepTheirs:
            rename(backupPath, supersededPath)
            logger.warning("resolv.conf: \(path) was \(current == nil ? "removed" : "rewritten by someone else") while meshd managed it; theirs stays, meshd's backup of the earlier file is in \(supersededPath)")
        }
        unlink(writtenPath)
        unlink(nextPath)
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
