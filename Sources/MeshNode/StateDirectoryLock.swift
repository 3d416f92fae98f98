#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// One meshd per state directory: two would share a node key and fight over the same
/// registration and netmap files. An exclusive `flock` on `<state dir>/meshd.lock`, held for the
/// life of the process (the kernel drops it when the process dies, so a crash leaves no stale
/// lock); the file holds the holder's pid so the refusal can name it.
public final class StateDirectoryLock: Sendable {
    public let path: String
    private let fd: Int32

    public init(directory: StateDirectory) throws {
        try directory.ensureExists()
        path = directory.path + "/meshd.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            let e = errno
            throw StateError("cannot open \(path): \(String(cString: strerror(e)))" + (e == EACCES ? " (meshd needs root)" : ""))
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let e = errno
            let holder = Self.readPid(fd)
            close(fd)
            if e == EWOULDBLOCK {
                throw StateError("another meshd\(holder.map { " (pid \($0))" } ?? "") is running with the state directory \(directory.path); stop it first, or give this one another --state-dir")
            }
            throw StateError("cannot lock \(path): \(String(cString: strerror(e)))")
        }
        self.fd = fd
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    deinit { close(fd) }

    /// The pid the holder wrote, if it reads as one (the file is the holder's to write).
    static func readPid(_ fd: Int32) -> Int32? {
        var buf = [UInt8](repeating: 0, count: 16)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        let text = String(decoding: buf.prefix(n), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let pid = Int32(text), pid > 0 else { return nil }
        return pid
    }
}
