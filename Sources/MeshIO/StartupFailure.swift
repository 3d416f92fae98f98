#if canImport(Glibc)
import Glibc
#endif

/// One sentence for a local resource meshd could not get at start: the reason (errno) decides
/// the advice, since "needs root" is wrong for a busy device and "in use" wrong for a missing
/// driver. Checked before the node registers, so a failure costs no auth key.
public struct StartupFailure: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }

    public static func tunOpen(name: String, code: Int32) -> StartupFailure {
        let e = code < 0 ? -code : code
        switch e {
        case EPERM, EACCES:
            return StartupFailure("cannot create TUN device \(name): meshd needs root or CAP_NET_ADMIN")
        case ENOENT, ENODEV, ENXIO:
            return StartupFailure("cannot create TUN device \(name): /dev/net/tun is missing (load the tun module, or pass the device into the container)")
        case EBUSY:
            return StartupFailure("cannot create TUN device \(name): another process holds it (another meshd?); stop it or pass another --interface")
        case EINVAL:
            return StartupFailure("cannot create TUN device \(name): an interface of that name exists and is not a TUN device; pass another --interface")
        default:
            return StartupFailure("cannot create TUN device \(name): \(String(cString: strerror(e)))")
        }
    }

    public static func udpBind(port: UInt16, code: Int32) -> StartupFailure {
        let e = code < 0 ? -code : code
        switch e {
        case EADDRINUSE:
            return StartupFailure("UDP port \(port) is in use (another meshd?); stop it or pass another --port (0: any free port)")
        case EACCES, EPERM:
            return StartupFailure("cannot bind UDP port \(port): ports below 1024 need root or CAP_NET_BIND_SERVICE")
        default:
            return StartupFailure("cannot bind UDP port \(port): \(String(cString: strerror(e)))")
        }
    }
}
