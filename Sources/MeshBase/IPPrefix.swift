/// An address with a prefix length, as in `Address` and `AllowedIPs`. The address is kept as
/// written (an interface address like 10.0.0.1/24 needs its host bits); `masked` gives the
/// network for routing.
public struct IPPrefix: Hashable, Sendable {
    public var address: IPAddress
    public var length: Int

    /// `length` must be within 0...address.bitWidth.
    public init(address: IPAddress, length: Int) throws(IPParseError) {
        guard (0...address.bitWidth).contains(length) else {
            throw IPParseError(input: "\(address)/\(length)", expected: .prefix,
                               reason: "length \(length) is outside 0...\(address.bitWidth)")
        }
        self.address = address
        self.length = length
    }

    /// The prefix that covers exactly one address (/32 or /128).
    public init(host address: IPAddress) {
        self.address = address
        self.length = address.bitWidth
    }

    /// Parses "10.0.0.0/24" or "fd00::/64"; a bare address means a single host.
    public init(_ text: some StringProtocol) throws(IPParseError) {
        let input = String(text)
        let fail = { (reason: String) in IPParseError(input: input, expected: .prefix, reason: reason) }
        let parts = input.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let address: IPAddress
        do {
            address = try IPAddress(parts[0])
        } catch {
            throw fail(parts[0].isEmpty ? "missing address before '/'" : error.reason)
        }
        guard parts.count == 2 else {
            self = IPPrefix(host: address)
            return
        }
        let lengthText = parts[1].utf8
        guard !lengthText.isEmpty else { throw fail("missing length after '/'") }
        guard lengthText.allSatisfy(isDecimalDigit) else {
            throw fail("length '\(parts[1])' is not a decimal number")
        }
        guard lengthText.count <= 3, let length = Int(parts[1]), length <= address.bitWidth else {
            throw fail("length \(parts[1]) exceeds \(address.bitWidth)")
        }
        self.address = address
        self.length = length
    }

    /// The same prefix with the host bits cleared: 10.0.0.7/24 becomes 10.0.0.0/24.
    public var masked: IPPrefix {
        var copy = self
        copy.address = address.masked(toLength: length)
        return copy
    }

    /// Whether `address` lies in this network; an address of the other family never does.
    public func contains(_ other: IPAddress) -> Bool {
        guard other.isV4 == address.isV4 else { return false }
        return other.masked(toLength: length) == address.masked(toLength: length)
    }
}

extension IPPrefix: CustomStringConvertible {
    public var description: String { "\(address)/\(length)" }
}

