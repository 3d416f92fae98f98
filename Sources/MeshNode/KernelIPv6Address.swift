import MeshBase

/// One line of Linux's /proc/net/if_inet6: an IPv6 address of an interface with the kernel's
/// flags for it. `getifaddrs` lists the addresses but not whether the kernel would use them:
/// a tentative address (duplicate address detection still running, or failed) cannot be
/// used yet, and a deprecated one (its preferred lifetime ran out) is kept only for old
/// connections. Neither is worth publishing, so these flags decide.
public struct KernelIPv6Address: Sendable, Equatable {
    public var interface: String
    public var address: IPAddress
    /// The kernel's IFA_F_* bits.
    public var flags: UInt32

    static let temporary: UInt32 = 0x01     // IFA_F_TEMPORARY (privacy address)
    static let dadFailed: UInt32 = 0x08     // IFA_F_DADFAILED
    static let deprecated: UInt32 = 0x20    // IFA_F_DEPRECATED
    static let tentative: UInt32 = 0x40     // IFA_F_TENTATIVE

    public init(interface: String, address: IPAddress, flags: UInt32) {
        self.interface = interface
        self.address = address
        self.flags = flags
    }

    /// Usable as a source and destination now: not tentative, not failed, not deprecated.
    public var isPreferred: Bool { flags & (Self.dadFailed | Self.deprecated | Self.tentative) == 0 }

    /// The file's lines, "address ifindex prefixlen scope flags name" in hex (the address as 32
    /// digits); lines that do not parse are skipped.
    public static func parse(procIfInet6 text: String) -> [KernelIPv6Address] {
        var out: [KernelIPv6Address] = []
        for line in text.split(separator: "\n") {
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard f.count == 6, f[0].utf8.count == 32, let flags = UInt32(f[4], radix: 16) else { continue }
            guard let bytes = Self.hexBytes(f[0]), let address = IPAddress(networkBytes: bytes), !address.isV4 else { continue }
            out.append(KernelIPv6Address(interface: String(f[5]), address: address, flags: flags))
        }
        return out
    }

    /// Hex digits two by two (on the UTF-8 bytes, so no text can make it step past the end);
    /// nil on anything but an even count of ASCII hex digits.
    static func hexBytes(_ text: Substring) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let hi = hexValue(digits[i]), let lo = hexValue(digits[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
        }
        return out
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
