/// The class of a STUN message (RFC 8489 section 5): two bits, C1 and C0, interleaved with the
/// method bits in the 14-bit message type.
public enum STUNMessageClass: UInt8, Sendable, Hashable, CaseIterable {
    case request = 0b00
    case indication = 0b01
    case successResponse = 0b10
    case errorResponse = 0b11
}

/// A STUN message type: a 12-bit method and a class, packed as
/// `M11..M7 C1 M6..M4 C0 M3..M0` in the low 14 bits of the first header word.
public struct STUNMessageType: Sendable, Hashable, CustomStringConvertible {
    public static let bindingMethod: UInt16 = 0x001

    /// 12 bits; 0x001 is Binding.
    public let method: UInt16
    public let messageClass: STUNMessageClass

    public init(method: UInt16, messageClass: STUNMessageClass) {
        precondition(method <= 0x0FFF, "a STUN method has 12 bits")
        self.method = method
        self.messageClass = messageClass
    }

    /// Parses the 16-bit type field; nil if either of its top two bits is set (not STUN).
    public init?(rawValue: UInt16) {
        guard rawValue & 0xC000 == 0 else { return nil }
        method = (rawValue & 0x000F) | ((rawValue & 0x00E0) >> 1) | ((rawValue & 0x3E00) >> 2)
        let c0 = (rawValue >> 4) & 1
        let c1 = (rawValue >> 8) & 1
        messageClass = STUNMessageClass(rawValue: UInt8(c1 << 1 | c0))!
    }

    public var rawValue: UInt16 {
        let c = UInt16(messageClass.rawValue)
        return (method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2)
            | ((c & 1) << 4) | ((c & 2) << 7)
    }

    public static let bindingRequest = STUNMessageType(method: bindingMethod, messageClass: .request)
    public static let bindingIndication = STUNMessageType(method: bindingMethod, messageClass: .indication)
    public static let bindingSuccess = STUNMessageType(method: bindingMethod, messageClass: .successResponse)
    public static let bindingError = STUNMessageType(method: bindingMethod, messageClass: .errorResponse)

    public var description: String {
        let m = method == STUNMessageType.bindingMethod ? "Binding" : "method 0x" + String(method, radix: 16)
        return "\(m) \(messageClass)"
    }
}
