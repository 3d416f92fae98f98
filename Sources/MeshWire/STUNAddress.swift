/// A transport address as carried in MAPPED-ADDRESS, XOR-MAPPED-ADDRESS, RESPONSE-ORIGIN and
/// OTHER-ADDRESS: an IPv4 (4 bytes) or IPv6 (16 bytes) address in network order, and a port.
public struct STUNAddress: Sendable, Hashable, CustomStringConvertible {
    /// The address family codes of RFC 8489 section 14.1.
    public static let familyIPv4: UInt8 = 0x01
    public static let familyIPv6: UInt8 = 0x02

    public let ip: [UInt8]
    public let port: UInt16

    /// nil unless `ip` has 4 or 16 bytes.
    public init?(ip: some Collection<UInt8>, port: UInt16) {
        guard ip.count == 4 || ip.count == 16 else { return nil }
        self.ip = Array(ip)
        self.port = port
    }

    public var isIPv4: Bool { ip.count == 4 }
    public var family: UInt8 { isIPv4 ? STUNAddress.familyIPv4 : STUNAddress.familyIPv6 }

    /// `192.0.2.1:32853` or `[2001:db8::1]:32853` (IPv6 in full, uncompressed hex groups).
    public var description: String {
        if isIPv4 { return ip.map(String.init).joined(separator: ".") + ":\(port)" }
        var groups: [String] = []
        for i in stride(from: 0, to: 16, by: 2) {
            groups.append(String(UInt16(ip[i]) << 8 | UInt16(ip[i + 1]), radix: 16))
        }
        return "[" + groups.joined(separator: ":") + "]:\(port)"
    }
}
