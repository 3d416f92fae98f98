import Foundation
import Logging
import MeshCrypto
#if canImport(Glibc)
import Glibc
#endif

/// The state directory of a meshcoord server (`meshcoord serve`, `meshcoord relay`): created
/// 0700 on first start, locked so two servers never share it, holding the server's private
/// key in one 0600 file. Shared so both commands report the same problems the same way.
enum ServerStateDirectory {
    static func prepare(_ dir: String) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) {
            guard isDir.boolValue else { throw StartupError("state directory \(dir) exists but is not a directory") }
        } else {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            } catch {
                throw StartupError("cannot create state directory \(dir): \(reason(error))")
            }
        }
        guard access(dir, W_OK | X_OK) == 0 else {
            throw StartupError("state directory \(dir) is not writable by this user (uid \(getuid())): \(String(cString: strerror(errno)))")
        }
    }

    static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if let u = ns.userInfo[NSUnderlyingErrorKey] as? NSError, u.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(u.code)))
        }
        return ns.localizedDescription
    }

    /// Takes the directory's lock file (held until the descriptor closes). `server` names who
    /// holds it in the error ("another \(server) is already using ...").
    static func lock(_ dir: String, fileName: String, server: String) throws -> Int32 {
        let path = (dir as NSString).appendingPathComponent(fileName)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw StartupError("state directory \(dir) is not writable: cannot create \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw StartupError("another \(server) is already using the state directory \(dir)")
        }
        return fd
    }

    /// What a key file is and what losing it means, for the messages about it.
    struct KeyFile {
        var fileName: String
        /// e.g. "coordinator key"
        var what: String
        /// What to do when the file is corrupted.
        var ifCorrupted: String
    }

    /// Loads the private key, or makes one and writes it (0600, fsync, atomic rename) when
    /// the file does not exist yet.
    static func loadOrCreateKey(_ dir: String, _ file: KeyFile, logger: Logger) throws -> PrivateKey {
        let path = (dir as NSString).appendingPathComponent(file.fileName)
        if FileManager.default.fileExists(atPath: path) {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw StartupError("cannot read the \(file.what) \(path)")
            }
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let key = try? PrivateKey(base64: text) else {
                throw StartupError("\(file.what) \(path) is corrupted (expected one base64 X25519 private key); \(file.ifCorrupted)")
            }
            var st = stat()
            if stat(path, &st) == 0, st.st_mode & 0o077 != 0 {
                logger.warning("\(file.what) is readable by other users; run: chmod 600 \(path)")
            }
            return key
        }
        var entropy = SodiumEntropy()
        let key = PrivateKey.generate(using: &entropy)
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw StartupError("cannot write the \(file.what) \(tmp): \(String(cString: strerror(errno)))")
        }
        let line = Array((key.base64 + "\n").utf8)
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == line.count, synced == 0, rename(tmp, path) == 0 else {
            unlink(tmp)
            throw StartupError("cannot write the \(file.what) \(path): \(String(cString: strerror(errno)))")
        }
        let dfd = open(dir, O_RDONLY | O_DIRECTORY)
        if dfd >= 0 { fsync(dfd); close(dfd) }
        logger.info("created \(file.what)", metadata: ["path": "\(path)"])
        return key
    }
}
