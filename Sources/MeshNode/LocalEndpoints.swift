#if canImport(Glibc)
import Glibc
#endif
import MeshBase

/// The node's own candidate endpoints: the IPv4 addresses of its up, non-loopback interfaces
/// with the node's UDP port ("ip:port"). Addresses that peers can only reach through some
/// tunnel are left out: our own overlay interface, any other tun/WireGuard interface (they are
/// point-to-point), and any address inside the mesh's overlay prefix (another tunnel of this
/// mesh, under whatever name). Publishing those makes peers ping into other tunnels.
public enum LocalEndpoints {
    /// One address of one interface, as `getifaddrs` reports it.
    public struct InterfaceAddress: Sendable, Equatable {
        public var name: String
        public var ipv4: (UInt8, UInt8, UInt8, UInt8)
        public var isUp: Bool
        public var isLoopback: Bool
        public var isPointToPoint: Bool
        public init(name: String, ipv4: (UInt8, UInt8, UInt8, UInt8), isUp: Bool = true,
                    isLoopback: Bool = false, isPointToPoint: Bool = false) {
            self.name = name
            self.ipv4 = ipv4
            self.isUp = isUp
            self.isLoopback = isLoopback
            self.isPointToPoint = isPointToPoint
        }
        public static func == (a: Self, b: Self) -> Bool {
            a.name == b.name && a.ipv4 == b.ipv4 && a.isUp == b.isUp && a.isLoopback == b.isLoopback
                && a.isPointToPoint == b.isPointToPoint
        }
    }

    public static func gather(port: UInt16, excludingInterface excluded: String? = nil,
                              excludingPrefix overlayPrefix: String? = nil) -> [String] {
        select(interfaces(), port: port, excludingInterface: excluded, excludingPrefix: overlayPrefix)
    }

    /// The choice itself, apart from `getifaddrs`, so it can be tested.
    public static func select(_ list: [InterfaceAddress], port: UInt16, excludingInterface excluded: String?,
                              excludingPrefix overlayPrefix: String?) -> [String] {
        let prefix = overlayPrefix.flatMap { try? IPPrefix($0) }
        var out: [String] = []
        for a in list where a.isUp && !a.isLoopback {
            if let excluded, a.name == excluded { continue }
            if isTunnel(a) { continue }
            if let prefix, prefix.contains(.v4(UInt32(a.ipv4.0) << 24 | UInt32(a.ipv4.1) << 16 | UInt32(a.ipv4.2) << 8 | UInt32(a.ipv4.3))) {
                continue
            }
            let b = a.ipv4
            let text = "\(b.0).\(b.1).\(b.2).\(b.3):\(port)"
            if !out.contains(text) { out.append(text) }
        }
        return out
    }

    /// tun and WireGuard devices are point-to-point; so is PPP, but a ppp interface is a real
    /// uplink (often with the public address on it), so it stays.
    static func isTunnel(_ a: InterfaceAddress) -> Bool {
        let tunnelNames = ["tun", "tap", "wg", "utun", "tailscale", "zt"]
        if tunnelNames.contains(where: { a.name.hasPrefix($0) }) { return true }
        return a.isPointToPoint && !a.name.hasPrefix("ppp")
    }

    static func interfaces() -> [InterfaceAddress] {
        var out: [InterfaceAddress] = []
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(list) }
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let ifa = cursor {
            defer { cursor = ifa.pointee.ifa_next }
            guard let addr = ifa.pointee.ifa_addr, addr.pointee.sa_family == sa_family_t(AF_INET) else { continue }
            let flags = Int32(bitPattern: ifa.pointee.ifa_flags)
            let v4 = addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
            let b = withUnsafeBytes(of: v4) { Array($0) }  // network order
            out.append(InterfaceAddress(name: String(cString: ifa.pointee.ifa_name), ipv4: (b[0], b[1], b[2], b[3]),
                                        isUp: flags & Int32(IFF_UP) != 0,
                                        isLoopback: flags & Int32(IFF_LOOPBACK) != 0,
                                        isPointToPoint: flags & Int32(IFF_POINTOPOINT) != 0))
        }
        return out
    }
}
