/// A peer's UDP address as the protocol sees it: 16 address bytes (IPv4 mapped into IPv6)
/// and a port. Plain bytes keep it allocation-free and independent of any socket library.
public struct UDPAddress: Hashable, Sendable, CustomStringConvertible {
    public var ip: SIMD16<UInt8>
    public var port: UInt16

    public init(ip: SIMD16<UInt8>, port: UInt16) {
        self.ip = ip
        self.port = port
    }

    /// `[::]:0`: no address (what a Pong reports for a Ping that came through the relay).
    public static let unspecified = UDPAddress(ip: SIMD16<UInt8>(), port: 0)

    public init(ipv4 a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, port: UInt16) {
        var v = SIMD16<UInt8>()
        v[10] = 0xff; v[11] = 0xff
        v[12] = a; v[13] = b; v[14] = c; v[15] = d
        self.init(ip: v, port: port)
    }

    /// From address bytes as the wire or a parser has them: 4 for IPv4, 16 for IPv6; nil for
    /// any other length. The one conversion every address source (config endpoints, STUN
    /// answers) goes through.
    public init?(addressBytes b: [UInt8], port: UInt16) {
        switch b.count {
        case 4: self.init(ipv4: b[0], b[1], b[2], b[3], port: port)
        case 16:
            var v = SIMD16<UInt8>()
            for i in 0..<16 { v[i] = b[i] }
            self.init(ip: v, port: port)
        default: return nil
        }
    }

    public var isIPv4: Bool {
        for i in 0..<10 where ip[i] != 0 { return false }
        return ip[10] == 0xff && ip[11] == 0xff
    }

    /// The address bytes as the wire carries them: 4 for IPv4, 16 for IPv6.
    public var addressBytes: [UInt8] {
        isIPv4 ? [ip[12], ip[13], ip[14], ip[15]] : (0..<16).map { ip[$0] }
    }

    /// `203.0.113.7:41641` or `[2001:db8::1]:41641` (RFC 5952 text, as people write it and
    /// as the endpoints a node publishes are spelled, so equal addresses give equal strings).
    public var description: String {
        if isIPv4 { return "\(ip[12]).\(ip[13]).\(ip[14]).\(ip[15]):\(port)" }
        let text = IPAddress(networkBytes: addressBytes)?.description ?? "::"
        return "[\(text)]:\(port)"
    }
}
