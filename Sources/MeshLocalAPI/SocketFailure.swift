#if canImport(Glibc)
import Glibc
#endif

/// Why meshctl could not talk to meshd, as one sentence with the hint that fits the errno:
/// no socket (meshd not running, or another --socket), nobody listening (meshd died), no
/// permission (not root and not in the `mesh` group), or the daemon took too long.
public enum SocketFailure {
    public static func sentence(errno code: Int32, path: String, operation: String = "connect") -> String {
        switch code {
        case ENOENT, ENOTDIR:
            return "meshd is not running: there is no socket at \(path) (start meshd, or pass --socket)"
        case ECONNREFUSED:
            return "meshd is not running: nothing listens on \(path) (a meshd that stopped left it behind)"
        case EACCES, EPERM:
            return "permission denied on \(path): run meshctl as root or as a member of the group '\(LocalAPIAccess.readerGroup)'"
        case EAGAIN, ETIMEDOUT:
            return "meshd did not answer on \(path) in time"
        case ENAMETOOLONG:
            return "the socket path \(path) is too long for a unix socket"
        default:
            return "cannot \(operation) meshd's socket \(path): \(String(cString: strerror(code)))"
        }
    }
}
