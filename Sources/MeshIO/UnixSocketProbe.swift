#if canImport(Glibc)
import Glibc
#endif

/// Whether a unix socket path is free, held by a live server, or left behind by a dead one:
/// binding over a live server's path would silently take its clients, so a daemon probes first.
public enum UnixSocketProbe {
    public enum Finding: Equatable, Sendable {
        case absent
        /// A server accepted a connection.
        case answering
        /// A socket file nobody listens on (its server died without removing it).
        case stale
        case notASocket
        /// Connecting failed otherwise (e.g. EACCES): it cannot be told apart.
        case unknown(errno: Int32)
    }

    public static func probe(_ path: String) -> Finding {
        var st = stat()
        guard lstat(path, &st) == 0 else { return .absent }
        guard st.st_mode & S_IFMT == S_IFSOCK else { return .notASocket }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard bytes.count < capacity else { return .unknown(errno: ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .unknown(errno: errno) }
        defer { close(fd) }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if rc == 0 { return .answering }
        let e = errno
        return e == ECONNREFUSED ? .stale : .unknown(errno: e)
    }
}
