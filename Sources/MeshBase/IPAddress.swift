/// Why text failed to parse as an IP address or prefix. Carries the offending text so the
/// config parser can quote it back to the user next to the line number.
public struct IPParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What the text was supposed to be, as the message names it.
    public enum Expected: String, Sendable {
        case address = "IP address"
        case prefix = "IP prefix"
    }

    public var input: String
    public var expected: Expected
    public var reason: String

    public init(input: String, expected: Expected, reason: String) {
        self.input = input
        self.expected = expected
        self.reason = reason
    }

    public var description: String { "'\(input)' is not a valid \(expected.rawValue): \(reason)" }
}

/// An IPv4 or IPv6 address held as plain integers, so routing lookups on the packet path
/// hash and compare without touching the heap.
public enum IPAddress: Hashable, Sendable {
    /// Host byte order: 10.0.0.1 is 0x0A00_0001.
    case v4(UInt32)
    /// The 128 bits split in two, most significant half first.
    case v6(high: UInt64, low: UInt64)

    /// Bits in an address of this family: the longest meaningful prefix length.
    public var bitWidth: Int {
        switch self {
        case .v4: return 32
        case .v6: return 128
        }
    }

    public var isV4: Bool {
        if case .v4 = self { return true }
        return false
    }

    /// Accepts dotted-quad IPv4 and RFC 4291 IPv6 text (with `::` and a trailing dotted quad).
    /// Zone identifiers (`fe80::1%eth0`) and leading zeros in IPv4 octets are refused: the
    /// first cannot be routed through a tunnel, the second is read as octal by some tools.
    public init(_ text: some StringProtocol) throws(IPParseError) {
        let bytes = Array(text.utf8)
        let fail = { (reason: String) in IPParseError(input: String(text), expected: .address, reason: reason) }
        if bytes.isEmpty { throw fail("empty") }
        if bytes.contains(UInt8(ascii: ":")) {
            switch IPAddress.parseV6(bytes[...]) {
            case .success(let (high, low)): self = .v6(high: high, low: low)
            case .failure(let reason): throw fail(reason.text)
            }
        } else {
            switch IPAddress.parseV4(bytes[...]) {
            case .success(let value): self = .v4(value)
            case .failure(let reason): throw fail(reason.text)
            }
        }
    }

    /// Bits of the address, most significant first, widened so both families share one code
    /// path for masking and comparison.
    var bits: (high: UInt64, low: UInt64) {
        switch self {
        case .v4(let v): return (0, UInt64(v))
        case .v6(let high, let low): return (high, low)
        }
    }

    /// Keeps the first `length` bits and clears the rest.
    public func masked(toLength length: Int) -> IPAddress {
        switch self {
        case .v4(let v):
            let clamped = min(max(length, 0), 32)
            let mask: UInt32 = clamped == 0 ? 0 : ~UInt32(0) << UInt32(32 - clamped)
            return .v4(v & mask)
        case .v6(let high, let low):
            let clamped = min(max(length, 0), 128)
            let highMask: UInt64 = clamped == 0 ? 0 : (clamped >= 64 ? ~0 : ~UInt64(0) << UInt64(64 - clamped))
            let lowBits = clamped - 64
            let lowMask: UInt64 = lowBits <= 0 ? 0 : (lowBits >= 64 ? ~0 : ~UInt64(0) << UInt64(64 - lowBits))
            return .v6(high: high & highMask, low: low & lowMask)
        }
    }
}

// MARK: - Parsing

/// A parse failure reason without the input attached; `init` adds the input once.
struct IPParseReason: Error {
    var text: String
    init(_ text: String) { self.text = text }
}

extension IPAddress {
    static func parseV4(_ bytes: ArraySlice<UInt8>) -> Result<UInt32, IPParseReason> {
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else {
            return .failure(IPParseReason("IPv4 needs four dot-separated numbers, found \(parts.count)"))
        }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty else { return .failure(IPParseReason("empty number between dots")) }
            guard part.allSatisfy(isDecimalDigit) else {
                return .failure(IPParseReason("IPv4 numbers must be decimal digits"))
            }
            guard part.count == 1 || part.first != UInt8(ascii: "0") else {
                return .failure(IPParseReason("leading zeros are ambiguous (octal?) and not accepted"))
            }
            guard part.count <= 3 else { return .failure(IPParseReason("IPv4 number exceeds 255")) }
            let octet = part.reduce(0) { $0 * 10 + UInt32($1 - UInt8(ascii: "0")) }
            guard octet <= 255 else { return .failure(IPParseReason("IPv4 number \(octet) exceeds 255")) }
            value = value << 8 | octet
        }
        return .success(value)
    }

    static func parseV6(_ bytes: ArraySlice<UInt8>) -> Result<(UInt64, UInt64), IPParseReason> {
        if bytes.contains(UInt8(ascii: "%")) {
            return .failure(IPParseReason("zone identifiers (%...) are not supported"))
        }
        let colon = UInt8(ascii: ":")
        // Split around the one allowed "::"; each side is a plain list of groups.
        var head = bytes, tail: ArraySlice<UInt8>? = nil
        var i = bytes.startIndex
        while i + 1 < bytes.endIndex {
            if bytes[i] == colon && bytes[i + 1] == colon {
                head = bytes[bytes.startIndex..<i]
                tail = bytes[(i + 2)...]
                break
            }
            i += 1
        }
        if let tail, tail.starts(with: [colon]) || containsDoubleColon(tail) {
            return .failure(IPParseReason("'::' may appear only once"))
        }

        func groups(_ part: ArraySlice<UInt8>, mayEndInV4: Bool) -> Result<[UInt16], IPParseReason> {
            if part.isEmpty { return .success([]) }
            let fields = part.split(separator: colon, omittingEmptySubsequences: false)
            var out: [UInt16] = []
            out.reserveCapacity(8)
            for (n, field) in fields.enumerated() {
                if field.isEmpty { return .failure(IPParseReason("empty group (a stray ':')")) }
                if field.contains(UInt8(ascii: ".")) {
                    guard mayEndInV4, n == fields.count - 1 else {
                        return .failure(IPParseReason("an embedded IPv4 address may only end the address"))
                    }
                    switch parseV4(field) {
                    case .success(let v4):
                        out.append(UInt16(v4 >> 16))
                        out.append(UInt16(v4 & 0xFFFF))
                    case .failure(let reason): return .failure(reason)
                    }
                    continue
                }
                guard field.count <= 4 else {
                    return .failure(IPParseReason("a group has more than four hex digits"))
                }
                var group: UInt16 = 0
                for c in field {
                    guard let digit = hexValue(c) else {
                        return .failure(IPParseReason("'\(String(decoding: field, as: UTF8.self))' is not a hex group"))
                    }
                    group = group << 4 | UInt16(digit)
                }
                out.append(group)
            }
            return .success(out)
        }

        let headGroups: [UInt16]
        switch groups(head, mayEndInV4: tail == nil) {
        case .success(let g): headGroups = g
        case .failure(let reason): return .failure(reason)
        }
        var all: [UInt16]
        if let tail {
            let tailGroups: [UInt16]
            switch groups(tail, mayEndInV4: true) {
            case .success(let g): tailGroups = g
            case .failure(let reason): return .failure(reason)
            }
            let present = headGroups.count + tailGroups.count
            guard present <= 7 else {
                return .failure(IPParseReason("'::' must stand for at least one group, but \(present) are present"))
            }
            all = headGroups + [UInt16](repeating: 0, count: 8 - present) + tailGroups
        } else {
            all = headGroups
            guard all.count == 8 else {
                return .failure(IPParseReason("IPv6 needs eight groups or '::', found \(all.count)"))
            }
        }
        var high: UInt64 = 0, low: UInt64 = 0
        for g in all[0..<4] { high = high << 16 | UInt64(g) }
        for g in all[4..<8] { low = low << 16 | UInt64(g) }
        return .success((high, low))
    }

    private static func containsDoubleColon(_ bytes: ArraySlice<UInt8>) -> Bool {
        zip(bytes, bytes.dropFirst()).contains { $0 == UInt8(ascii: ":") && $1 == UInt8(ascii: ":") }
    }
}

package func isDecimalDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

private func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
    default: return nil
    }
}

// MARK: - Formatting

extension IPAddress: CustomStringConvertible {
    /// RFC 5952 canonical text: lower case, the longest run of two or more zero groups
    /// compressed, IPv4-mapped addresses with a dotted quad. Parsing it gives the same value.
    public var description: String {
        switch self {
        case .v4(let v):
            return "\(v >> 24).\((v >> 16) & 0xFF).\((v >> 8) & 0xFF).\(v & 0xFF)"
        case .v6(let high, let low):
            if high == 0 && low >> 32 == 0xFFFF {
                return "::ffff:" + IPAddress.v4(UInt32(truncatingIfNeeded: low)).description
            }
            let groups: [UInt16] = (0..<8).map { i in
                let half = i < 4 ? high : low
                return UInt16(truncatingIfNeeded: half >> UInt64(16 * (3 - i % 4)))
            }
            var bestStart = -1, bestLength = 0, runStart = -1
            for i in 0...8 {
                if i < 8 && groups[i] == 0 {
                    if runStart < 0 { runStart = i }
                } else if runStart >= 0 {
                    if i - runStart > bestLength { bestStart = runStart; bestLength = i - runStart }
                    runStart = -1
                }
            }
            func hex(_ range: Range<Int>) -> String {
                groups[range].map { String($0, radix: 16) }.joined(separator: ":")
            }
            guard bestLength >= 2 else { return hex(0..<8) }
            return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
        }
    }
}

extension IPAddress {
    /// Network-order bytes: 4 for IPv4, 16 for IPv6, as netlink and packet headers carry them.
    public var networkBytes: [UInt8] {
        switch self {
        case .v4(let v): return (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * UInt32($0))) }
        case .v6(let high, let low):
            return (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64($0))) }
                + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64($0))) }
        }
    }
}

extension IPAddress {
    /// From network-order bytes as sockets and packet headers carry them: 4 bytes are IPv4,
    /// 16 are IPv6; any other count is nil.
    public init?(networkBytes bytes: some Collection<UInt8>) {
        let b = Array(bytes)
        switch b.count {
        case 4:
            self = .v4(b.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        case 16:
            let high = b[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let low = b[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            self = .v6(high: high, low: low)
        default:
            return nil
        }
    }
}
