#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's open-file limit. Many systems start services with a soft limit of 1024
/// while allowing far more (the hard limit); every node holds one or two connections, so
/// meshcoord raises its soft limit to the hard one at start (an unprivileged process may).
public enum FileDescriptorLimit {
    /// Raises the soft RLIMIT_NOFILE to the hard limit; returns the limits now in force.
    /// Unlimited or absurd hard limits are treated as 1,048,576 (the usual kernel maximum).
    @discardableResult
    public static func raiseSoftToHard() -> (soft: Int, hard: Int) {
        var r = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &r) == 0 else { return (1024, 1024) }
        let ceiling: rlim_t = 1 << 20
        let target = min(r.rlim_max, ceiling)
        if r.rlim_cur < target {
            var raised = r
            raised.rlim_cur = target
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { r = raised }
        }
        return (Int(min(r.rlim_cur, ceiling)), Int(min(r.rlim_max, ceiling)))
    }
}
