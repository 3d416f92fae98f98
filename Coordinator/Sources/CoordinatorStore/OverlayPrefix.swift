import MeshBase

/// An overlay address prefix (IPv4 like 100.64.0.0/10 or IPv6 like fd7a:1:2::/48) and the
/// arithmetic the allocator needs: the address at offset n from the network address.
public struct OverlayPrefix: Equatable, Sendable, CustomStringConvertible {
    public enum Family: Sendable { case v4, v6 }
    public let family: Family
    /// Network address, 4 or 16 bytes, host bits zero.
    public let network: [UInt8]
    public let length: Int

    public struct ParseError: Error, CustomStringConvertible {
        public let description: String
    }

    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let len = Int(parts[1]) else {
            throw ParseError(description: "\"\(text)\" is not a prefix like 100.64.0.0/10 or fd00:1:2::/48")
        }
        let host = String(parts[0])
        if let v4 = OverlayPrefix.parseIPv4(host) {
            guard (8...30).contains(len) else {
                throw ParseError(description: "IPv4 prefix length in \"\(text)\" must be between 8 and 30")
            }
            family = .v4
            network = OverlayPrefix.masked(v4, len)
        } else if let v6 = OverlayPrefix.parseIPv6(host) {
            guard (16...120).contains(len) else {
                throw ParseError(description: "IPv6 prefix length in \"\(text)\" must be between 16 and 120")
            }
            family = .v6
            network = OverlayPrefix.masked(v6, len)
        } else {
            throw ParseError(description: "\"\(host)\" in \"\(text)\" is not an IP address")
        }
        length = len
        guard network == (family == .v4 ? OverlayPrefix.parseIPv4(host)! : OverlayPrefix.parseIPv6(host)!) else {
            throw ParseError(description: "\"\(text)\" has host bits set (did you mean \(OverlayPrefix.format(network))/\(len)?)")
        }
    }

    public init(family: Family, network: [UInt8], length: Int) {
        self.family = family
        self.network = OverlayPrefix.masked(network, length)
        self.length = length
    }

    public var description: String { "\(OverlayPrefix.format(network))/\(length)" }

    /// Number of host offsets usable (capped at 2^62 for big IPv6 prefixes).
    public var hostBits: Int { network.count * 8 - length }

    /// The address `offset` past the network address, or nil when outside the prefix.
    public func address(atOffset offset: UInt64) -> String? {
        if hostBits < 63, offset >= (UInt64(1) << UInt64(hostBits)) { return nil }
        var bytes = network
        var carry = offset
        var i = bytes.count - 1
        while carry > 0 && i >= 0 {
            let sum = UInt64(bytes[i]) + (carry & 0xFF)
            bytes[i] = UInt8(truncatingIfNeeded: sum)
            carry = (carry >> 8) + (sum >> 8)
            i -= 1
        }
        return OverlayPrefix.format(bytes)
    }

    /// Whether `address` (textual) lies in this prefix.
    public func contains(_ address: String) -> Bool {
        let bytes = family == .v4 ? OverlayPrefix.parseIPv4(address) : OverlayPrefix.parseIPv6(address)
        guard let bytes else { return false }
        return OverlayPrefix.masked(bytes, length) == network
    }

    static func masked(_ bytes: [UInt8], _ len: Int) -> [UInt8] {
        var out = bytes
        for i in 0..<out.count {
            let bitsHere = max(0, min(8, len - i * 8))
            out[i] &= bitsHere == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - bitsHere))
        }
        return out
    }

    public static func parseIPv4(_ s: String) -> [UInt8]? {
        guard let a = try? IPAddress(s), a.isV4 else { return nil }
        return a.networkBytes
    }

    public static func parseIPv6(_ s: String) -> [UInt8]? {
        guard let a = try? IPAddress(s), !a.isV4 else { return nil }
        return a.networkBytes
    }

    public static func format(_ bytes: [UInt8]) -> String {
        IPAddress(networkBytes: bytes).map { "\($0)" } ?? "?"
    }
}

/// Node names: DNS labels made from the hostname a node reports.
public enum NodeName {
    public static let maxLength = 63

    /// Lowercase letters, digits and '-', at most 63 characters, no leading/trailing '-';
    /// "node" when nothing is left.
    public static func sanitize(_ hostname: String) -> String {
        var out = ""
        var lastDash = true
        for scalar in hostname.lowercased().unicodeScalars {
            if out.count >= maxLength { break }
            if (scalar >= "a" && scalar <= "z") || (scalar >= "0" && scalar <= "9") {
                out.unicodeScalars.append(scalar)
                lastDash = false
            } else if scalar == "." {
                break  // "laptop.example.com" → "laptop"
            } else if !lastDash {
                out.append("-")
                lastDash = true
            }
        }
        while out.hasSuffix("-") { out.removeLast() }
        return out.isEmpty ? "node" : out
    }

    /// Whether an admin-given name is acceptable as is.
    public static func isValid(_ name: String) -> Bool {
        !name.isEmpty && name.count <= maxLength && sanitize(name) == name
    }

    /// `base` if free, else `base-2`, `base-3`, ... (kept within 63 characters).
    public static func unique(_ base: String, taken: Set<String>) -> String {
        if !taken.contains(base) { return base }
        var n = 2
        while true {
            let suffix = "-\(n)"
            let candidate = String(base.prefix(maxLength - suffix.count)) + suffix
            if !taken.contains(candidate) { return candidate }
            n += 1
        }
    }
}
