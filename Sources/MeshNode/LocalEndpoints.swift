#if canImport(Glibc)
import Glibc
#endif

/// The node's own candidate endpoints: the IPv4 addresses of its up, non-loopback interfaces
/// with the node's UDP port ("ip:port"), excluding the overlay interface.
public enum LocalEndpoints {
    public static func gather(port: UInt16, excludingInterface excluded: String? = nil) -> [String] {
        var out: [String] = []
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(list) }
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let ifa = cursor {
            defer { cursor = ifa.pointee.ifa_next }
            let flags = Int32(bitPattern: ifa.pointee.ifa_flags)
            guard let addr = ifa.pointee.ifa_addr, addr.pointee.sa_family == sa_family_t(AF_INET),
                  flags & Int32(IFF_UP) != 0, flags & Int32(IFF_LOOPBACK) == 0 else { continue }
            let name = String(cString: ifa.pointee.ifa_name)
            if let excluded, name == excluded { continue }
            let v4 = addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
            let b = withUnsafeBytes(of: v4) { Array($0) }  // network order
            let text = "\(b[0]).\(b[1]).\(b[2]).\(b[3]):\(port)"
            if !out.contains(text) { out.append(text) }
        }
        return out
    }
}
