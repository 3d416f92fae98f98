/// Reads one request of WireGuard's cross-platform userspace API from the bytes of a
/// connection as they arrive (pure: the server feeds it). `get=1` is one line and an empty
/// one; `set=1` is a line, key=value lines and an empty one, which meshd drains without
/// keeping (it is read-only: the coordinator or the config file owns the configuration), so
/// memory per connection stays a few bytes however much a client sends.
public struct WireGuardUAPIRequest: Sendable {
    public enum Operation: Equatable, Sendable {
        case get
        case set
        /// Not a request of the protocol (or more than `maxSetBytes` of `set`): the server
        /// closes the connection without an answer, as wireguard-go does.
        case invalid
    }

    /// More `set` than any real `wg set` sends before meshd gives up reading it.
    public static let maxSetBytes = 1 << 20

    private var operationLine: [UInt8] = []
    private var operation: Operation?
    private var previous: UInt8 = 0
    private var setBytes = 0
    /// The answer, once known; later bytes are ignored.
    public private(set) var result: Operation?

    public init() {}

    /// Feeds bytes; returns the operation once the request is complete (then again for any
    /// later call).
    @discardableResult
    public mutating func consume(_ bytes: some Sequence<UInt8>) -> Operation? {
        for byte in bytes {
            if let result { return result }
            guard let operation else {
                if byte == UInt8(ascii: "\n") {
                    switch String(decoding: operationLine, as: UTF8.self) {
                    case "get=1": self.operation = .get
                    case "set=1": self.operation = .set
                    default: result = .invalid
                    }
                    previous = byte
                } else if operationLine.count >= 8 {
                    result = .invalid
                } else {
                    operationLine.append(byte)
                }
                continue
            }
            switch operation {
            case .get:
                // The empty line must follow at once (wireguard-go refuses anything else).
                result = byte == UInt8(ascii: "\n") ? .get : .invalid
            case .set:
                setBytes += 1
                if byte == UInt8(ascii: "\n") && previous == UInt8(ascii: "\n") {
                    result = .set
                } else if setBytes > Self.maxSetBytes {
                    result = .invalid
                }
                previous = byte
            case .invalid:
                result = .invalid
            }
        }
        return result
    }

    /// The answer to `set=1`: EPERM, negated as wireguard-go and `wg` encode a set's error
    /// (`wg set` then says "Unable to modify interface: Operation not permitted").
    public static let setRefusal = "errno=-1\n\n"
}
