import CMeshShim
import WireGuard

/// The only place meshd reads the time; everything else receives it as an argument.
public enum SystemClock {
    @inline(__always)
    public static func now() -> MonotonicTime { MonotonicTime(nanoseconds: mesh_monotonic_ns()) }

    public static func wallClock() -> TAI64N {
        var s: Int64 = 0, ns: Int32 = 0
        mesh_realtime(&s, &ns)
        return TAI64N(unixSeconds: s, nanoseconds: ns)
    }

    public static func unixSeconds() -> Int64 {
        var s: Int64 = 0, ns: Int32 = 0
        mesh_realtime(&s, &ns)
        return s
    }
}
