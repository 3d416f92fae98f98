/// IP protocol numbers (IANA) the policy names, and a set of them as a 256-bit mask, so a rule's
/// protocol check on the packet path is one bit test.
public enum IPProtocolNumber {
    public static let icmp: UInt8 = 1
    public static let igmp: UInt8 = 2
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
    public static let gre: UInt8 = 47
    public static let esp: UInt8 = 50
    public static let ah: UInt8 = 51
    public static let icmpv6: UInt8 = 58
    public static let sctp: UInt8 = 132

    /// The names Tailscale's `proto` accepts, lower case.
    static let byName: [String: UInt8] = [
        "icmp": icmp, "igmp": igmp, "tcp": tcp, "udp": udp, "gre": gre, "esp": esp, "ah": ah,
        "ipv6-icmp": icmpv6, "icmpv6": icmpv6, "sctp": sctp,
    ]

    /// Protocols whose headers carry ports; a rule for any other protocol must say `*`.
    public static func hasPorts(_ proto: UInt8) -> Bool { proto == tcp || proto == udp || proto == sctp }
}

public struct IPProtocolSet: Hashable, Sendable, CustomStringConvertible {
    var words: (UInt64, UInt64, UInt64, UInt64)

    public init() { words = (0, 0, 0, 0) }

    public init(_ protocols: some Sequence<UInt8>) {
        self.init()
        for p in protocols { insert(p) }
    }

    /// What a rule without `proto` allows, as in Tailscale: TCP, UDP, ICMP and ICMPv6.
    public static let defaultProtocols = IPProtocolSet([IPProtocolNumber.tcp, IPProtocolNumber.udp,
                                                        IPProtocolNumber.icmp, IPProtocolNumber.icmpv6])

    public mutating func insert(_ p: UInt8) {
        let bit = UInt64(1) << UInt64(p & 63)
        switch p >> 6 {
        case 0: words.0 |= bit
        case 1: words.1 |= bit
        case 2: words.2 |= bit
        default: words.3 |= bit
        }
    }

    @inline(__always)
    public func contains(_ p: UInt8) -> Bool {
        let bit = UInt64(1) << UInt64(p & 63)
        switch p >> 6 {
        case 0: return words.0 & bit != 0
        case 1: return words.1 & bit != 0
        case 2: return words.2 & bit != 0
        default: return words.3 & bit != 0
        }
    }

    public var members: [UInt8] { (0...255).map { UInt8($0) }.filter(contains) }

    public var isEmpty: Bool { words == (0, 0, 0, 0) }

    public static func == (a: Self, b: Self) -> Bool { a.words == b.words }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0); hasher.combine(words.1); hasher.combine(words.2); hasher.combine(words.3)
    }

    public var description: String { members.map(String.init).joined(separator: ",") }
}
