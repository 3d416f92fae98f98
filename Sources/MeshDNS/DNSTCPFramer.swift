/// DNS over TCP (RFC 1035 4.2.2, RFC 7766): every message after a two-byte length. Collects
/// what a connection sends and hands out the complete messages; at most one message's worth
/// (2 + 65535 bytes) is ever buffered, so a client that trickles bytes holds that much at most.
public struct DNSTCPFramer: Sendable {
    private var buffer: [UInt8] = []
    public static let maxBuffered = 2 + Int(UInt16.max)

    public init() {}

    /// The messages `bytes` completes, in order (a zero-length message is skipped).
    public mutating func append(_ bytes: some Collection<UInt8>) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var rest = bytes[...]
        while !rest.isEmpty {
            let needed: Int
            if buffer.count < 2 {
                needed = 2 - buffer.count
            } else {
                needed = 2 + (Int(buffer[0]) << 8 | Int(buffer[1])) - buffer.count
            }
            let take = rest.prefix(needed)
            buffer.append(contentsOf: take)
            rest = rest.dropFirst(take.count)
            if buffer.count >= 2 {
                let length = Int(buffer[0]) << 8 | Int(buffer[1])
                if buffer.count == 2 + length {
                    if length > 0 { out.append(Array(buffer[2...])) }
                    buffer.removeAll(keepingCapacity: buffer.count <= 4096)
                }
            }
        }
        return out
    }

    /// The bytes waiting for the rest of their message.
    public var bufferedCount: Int { buffer.count }

    /// A message with its length in front, as it goes back over TCP (nil when it cannot fit).
    public static func frame(_ message: [UInt8]) -> [UInt8]? {
        guard message.count <= Int(UInt16.max) else { return nil }
        return [UInt8(truncatingIfNeeded: message.count >> 8), UInt8(truncatingIfNeeded: message.count)] + message
    }
}
