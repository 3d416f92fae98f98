#if canImport(Glibc)
import Glibc
#endif
import MeshIO

/// Takes a network interface administratively down or up (SIOCSIFFLAGS), for `meshctl down`
/// and `up`: down, the kernel stops routing into the TUN device and drops what meshd writes to
/// it, so no overlay traffic flows either way while the node stays registered.
enum InterfaceLink {
    /// IFF_UP of <net/if.h>.
    static let upFlag: Int16 = 0x1

    static func set(_ name: String, up: Bool) throws {
        let s = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard s >= 0 else { throw SystemError("opening a socket to configure \(name)", code: errno) }
        defer { close(s) }
        var request = ifreq()
        withUnsafeMutableBytes(of: &request.ifr_ifrn.ifrn_name) { buffer in
            for (i, byte) in name.utf8.prefix(buffer.count - 1).enumerated() { buffer[i] = byte }
        }
        guard ioctl(s, UInt(SIOCGIFFLAGS), &request) == 0 else {
            throw SystemError("reading the flags of \(name)", code: errno)
        }
        if up { request.ifr_ifru.ifru_flags |= upFlag } else { request.ifr_ifru.ifru_flags &= ~upFlag }
        guard ioctl(s, UInt(SIOCSIFFLAGS), &request) == 0 else {
            throw SystemError("taking \(name) \(up ? "up" : "down")", code: errno)
        }
    }
}
