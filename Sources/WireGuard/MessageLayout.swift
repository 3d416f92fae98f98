/// Byte layout of the four WireGuard messages (whitepaper section 5.4). All integers are
/// little-endian; the type is one byte followed by three reserved zero bytes.
public enum MessageType: UInt8, Sendable {
    case initiation = 1
    case response = 2
    case cookieReply = 3
    case transport = 4
}

public enum MessageLayout {
    public static let initiationSize = 148
    public static let responseSize = 92
    public static let cookieReplySize = 64
    public static let transportHeaderSize = 16
    public static let transportMinimumSize = 32  // header + empty payload + tag
    public static let tagSize = 16

    // Initiation
    static let initSender = 4
    static let initEphemeral = 8
    static let initStatic = 40      // 32 + 16
    static let initTimestamp = 88   // 12 + 16
    static let initMAC1 = 116
    static let initMAC2 = 132

    // Response
    static let respSender = 4
    static let respReceiver = 8
    static let respEphemeral = 12
    static let respEmpty = 44       // 0 + 16
    static let respMAC1 = 60
    static let respMAC2 = 76

    // Cookie reply
    static let cookieReceiver = 4
    static let cookieNonce = 8
    static let cookieSealed = 32    // 16 + 16

    // Transport
    static let transportReceiver = 4
    static let transportCounter = 8

    /// Classifies a datagram by its first four bytes; nil if it is not a well-sized WireGuard message.
    public static func classify(_ datagram: UnsafeRawBufferPointer) -> MessageType? {
        guard datagram.count >= 4, datagram[1] == 0, datagram[2] == 0, datagram[3] == 0,
              let type = MessageType(rawValue: datagram[0]) else { return nil }
        switch type {
        case .initiation: return datagram.count == initiationSize ? type : nil
        case .response: return datagram.count == responseSize ? type : nil
        case .cookieReply: return datagram.count == cookieReplySize ? type : nil
        case .transport: return datagram.count >= transportMinimumSize ? type : nil
        }
    }
}

extension UnsafeRawBufferPointer {
    @inline(__always) func readLE32(_ offset: Int) -> UInt32 {
        UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    @inline(__always) func readLE64(_ offset: Int) -> UInt64 {
        UInt64(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
    func bytes(_ offset: Int, _ count: Int) -> [UInt8] { Array(self[offset..<offset + count]) }
    func key32(_ offset: Int) -> SIMD32<UInt8> {
        loadUnaligned(fromByteOffset: offset, as: SIMD32<UInt8>.self)
    }
}

extension UnsafeMutableRawBufferPointer {
    @inline(__always) func writeLE32(_ value: UInt32, _ offset: Int) {
        storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self)
    }
    @inline(__always) func writeLE64(_ value: UInt64, _ offset: Int) {
        storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt64.self)
    }
    func write(_ bytes: [UInt8], _ offset: Int) {
        for (i, b) in bytes.enumerated() { self[offset + i] = b }
    }
    func writeKey(_ key: SIMD32<UInt8>, _ offset: Int) {
        storeBytes(of: key, toByteOffset: offset, as: SIMD32<UInt8>.self)
    }
    func writeHeader(_ type: MessageType) {
        self[0] = type.rawValue; self[1] = 0; self[2] = 0; self[3] = 0
    }
}
