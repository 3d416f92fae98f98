#if canImport(Glibc)
import Glibc
#endif
import MeshBase

/// The node's own candidate endpoints: the addresses of its up, non-loopback interfaces with
/// the node's UDP port ("ip:port", "[ipv6]:port"), IPv4 first. Addresses that peers can only
/// reach through some tunnel are left out: our own overlay interface, any other tun/WireGuard
/// interface (they are point-to-point), and any address inside the mesh's overlay prefixes
/// (another tunnel of this mesh, under whatever name). Publishing those makes peers ping into
/// other tunnels.
///
/// IPv6: global and unique local (ULA) addresses only. Link-local fe80::/10 addresses need a
/// zone (the interface) that means nothing on the peer's side; multicast, loopback, mapped
/// and the deprecated site-local fec0::/10 are never a peer's way in; and an address the
/// kernel does not prefer (tentative, failed duplicate detection, deprecated) is left out until
/// it is usable.
public enum LocalEndpoints {
    /// One address of one interface, as `getifaddrs` reports it (and, for IPv6, whether the
    /// kernel prefers it: `KernelIPv6Address`).
    public struct InterfaceAddress: Sendable, Equatable {
        public var name: String
        public var address: IPAddress
        public var isUp: Bool
        public var isLoopback: Bool
        public var isPointToPoint: Bool
        /// IPv6: usable now (not tentative, deprecated or failed); always true for IPv4.
        public var isPreferred: Bool

        public init(name: String, address: IPAddress, isUp: Bool = true, isLoopback: Bool = false,
                    isPointToPoint: Bool = false, isPreferred: Bool = true) {
            self.name = name
            self.address = address
            self.isUp = isUp
            self.isLoopback = isLoopback
            self.isPointToPoint = isPointToPoint
            self.isPreferred = isPreferred
        }

        public init(name: String, ipv4 b: (UInt8, UInt8, UInt8, UInt8), isUp: Bool = true,
                    isLoopback: Bool = false, isPointToPoint: Bool = false) {
            self.init(name: name, address: .v4(UInt32(b.0) << 24 | UInt32(b.1) << 16 | UInt32(b.2) << 8 | UInt32(b.3)),
                      isUp: isUp, isLoopback: isLoopback, isPointToPoint: isPointToPoint)
        }
    }

    /// At most this many endpoints per family: privacy addresses pile up on some hosts, and
    /// every published endpoint costs each peer a Ping per discovery round.
    public static let maxPerFamily = 8

    public static func gather(port: UInt16, excludingInterface excluded: String? = nil,
                              excludingPrefixes overlayPrefixes: [String] = []) -> [String] {
        select(interfaces(), port: port, excludingInterface: excluded, excludingPrefixes: overlayPrefixes)
    }

    /// The choice itself, apart from `getifaddrs`, so it can be tested.
    public static func select(_ list: [InterfaceAddress], port: UInt16, excludingInterface excluded: String?,
                              excludingPrefixes overlayPrefixes: [String]) -> [String] {
        let prefixes = overlayPrefixes.compactMap { try? IPPrefix($0) }
        var v4: [String] = [], v6: [String] = []
        for a in list where a.isUp && !a.isLoopback && a.isPreferred {
            if let excluded, a.name == excluded { continue }
            if isTunnel(a) { continue }
            if prefixes.contains(where: { $0.contains(a.address) }) { continue }
            if a.address.isV4 {
                let text = "\(a.address):\(port)"
                if !v4.contains(text), v4.count < maxPerFamily { v4.append(text) }
            } else if isPublishableIPv6(a.address) {
                let text = "[\(a.address)]:\(port)"
                if !v6.contains(text), v6.count < maxPerFamily { v6.append(text) }
            }
        }
        return v4 + v6
    }

    /// Global unicast (2000::/3) and unique local (fc00::/7) addresses.
    static func isPublishableIPv6(_ a: IPAddress) -> Bool {
        guard case .v6(let high, _) = a else { return false }
        let top = high >> 56
        return top & 0xE0 == 0x20 || top & 0xFE == 0xFC
    }

    /// tun and WireGuard devices are point-to-point; so is PPP, but a ppp interface is a real
    /// uplink (often with the public address on it), so it stays.
    static func isTunnel(_ a: InterfaceAddress) -> Bool {
        let tunnelNames = ["tun", "tap", "wg", "utun", "tailscale", "zt"]
        if tunnelNames.contains(where: { a.name.hasPrefix($0) }) { return true }
        return a.isPointToPoint && !a.name.hasPrefix("ppp")
    }

    static func interfaces() -> [InterfaceAddress] {
        let kernel = kernelIPv6Addresses()
        var out: [InterfaceAddress] = []
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(list) }
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let ifa = cursor {
            defer { cursor = ifa.pointee.ifa_next }
            guard let addr = ifa.pointee.ifa_addr else { continue }
            let address: IPAddress?
            switch Int32(addr.pointee.sa_family) {
            case AF_INET:
                let v4 = addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
                address = IPAddress(networkBytes: withUnsafeBytes(of: v4) { Array($0) })  // network order
            case AF_INET6:
                let v6 = addr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                address = IPAddress(networkBytes: withUnsafeBytes(of: v6) { Array($0) })
            default:
                address = nil
            }
            guard let address else { continue }
            let name = String(cString: ifa.pointee.ifa_name)
            let flags = Int32(bitPattern: ifa.pointee.ifa_flags)
            // Without the kernel's table (not Linux, no /proc) an address counts as usable.
            let preferred = address.isV4
                || kernel.first(where: { $0.interface == name && $0.address == address })?.isPreferred ?? true
            out.append(InterfaceAddress(name: name, address: address,
                                        isUp: flags & Int32(IFF_UP) != 0,
                                        isLoopback: flags & Int32(IFF_LOOPBACK) != 0,
                                        isPointToPoint: flags & Int32(IFF_POINTOPOINT) != 0,
                                        isPreferred: preferred))
        }
        return out
    }

    /// /proc/net/if_inet6 of this network namespace, or nothing where there is none.
    static func kernelIPv6Addresses() -> [KernelIPv6Address] {
        guard let f = fopen("/proc/net/if_inet6", "r") else { return [] }
        defer { fclose(f) }
        var text: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        // A bounded read: one line is about 55 bytes, so 1 MiB is thousands of addresses.
        while text.count < 1 << 20 {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
            if n <= 0 { break }
            text += chunk[0..<n]
        }
        return KernelIPv6Address.parse(procIfInet6: String(decoding: text, as: UTF8.self))
    }
}
