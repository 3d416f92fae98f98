/// The 96-bit transaction ID of a STUN message. MeshWire has no randomness of its own: the
/// caller makes the 12 bytes (from a CSPRNG, RFC 8489 section 6) and passes them in.
public struct STUNTransactionID: Sendable, Hashable, CustomStringConvertible {
    public static let length = 12

    public let bytes: [UInt8]

    /// nil unless exactly 12 bytes.
    public init?(_ bytes: some Collection<UInt8>) {
        guard bytes.count == STUNTransactionID.length else { return nil }
        self.bytes = Array(bytes)
    }

    public var description: String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
