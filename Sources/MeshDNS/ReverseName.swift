import MeshBase

/// The address a complete reverse-lookup name stands for: `4.3.2.1.in-addr.arpa` is 1.2.3.4,
/// 32 nibble labels under `ip6.arpa` are an IPv6 address (RFC 1035 3.5, RFC 3596 2.5). Partial
/// names (a /16's zone) and anything malformed are nil: they are not a single address.
public enum ReverseName {
    static let inAddrArpa = DNSName("in-addr.arpa")!
    static let ip6Arpa = DNSName("ip6.arpa")!

    public static func isReverse(_ name: DNSName) -> Bool {
        name.isSubdomain(of: inAddrArpa) || name.isSubdomain(of: ip6Arpa)
    }

    public static func address(of name: DNSName) -> IPAddress? {
        let n = name.lowercased
        if n.labels.count == 6, n.isSubdomain(of: inAddrArpa) {
            var bytes: [UInt8] = []
            for label in n.labels[0..<4].reversed() {
                guard !label.isEmpty, label.count <= 3, label.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                      label.count == 1 || label.first != 0x30 else { return nil }
                let v = label.reduce(0) { $0 * 10 + Int($1 - 0x30) }
                guard v <= 255 else { return nil }
                bytes.append(UInt8(v))
            }
            return IPAddress(networkBytes: bytes)
        }
        if n.labels.count == 34, n.isSubdomain(of: ip6Arpa) {
            var nibbles: [UInt8] = []
            for label in n.labels[0..<32].reversed() {
                guard label.count == 1, let v = hexValue(label[0]) else { return nil }
                nibbles.append(v)
            }
            var bytes: [UInt8] = []
            for i in stride(from: 0, to: 32, by: 2) { bytes.append(nibbles[i] << 4 | nibbles[i + 1]) }
            return IPAddress(networkBytes: bytes)
        }
        return nil
    }

    /// The reverse name of `address`, as a PTR question asks for it.
    public static func name(of address: IPAddress) -> DNSName {
        let bytes = address.networkBytes
        var labels: [[UInt8]]
        if bytes.count == 4 {
            labels = bytes.reversed().map { Array(String($0).utf8) } + inAddrArpa.labels
        } else {
            let hex = Array("0123456789abcdef".utf8)
            labels = []
            for b in bytes.reversed() { labels += [[hex[Int(b & 0x0F)]], [hex[Int(b >> 4)]]] }
            labels += ip6Arpa.labels
        }
        // At most 34 short labels: always within the limits.
        return (try? DNSName(labels: labels)) ?? inAddrArpa
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }
}
