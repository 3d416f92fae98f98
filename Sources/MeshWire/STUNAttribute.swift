/// One STUN attribute (RFC 8489 section 14, RFC 5780 section 7). Attributes this codec does not
/// interpret are kept as `.unknown` with their raw value, so they survive a decode/encode.
public enum STUNAttribute: Sendable, Hashable {
    case mappedAddress(STUNAddress)
    case xorMappedAddress(STUNAddress)
    case username(String)
    /// The 20-byte HMAC-SHA1 as found on decode. `STUNMessage.encode` drops it and computes a
    /// fresh one when given a key.
    case messageIntegrity([UInt8])
    /// `code` is 300...699 (class * 100 + number); `reason` is UTF-8.
    case errorCode(code: Int, reason: String)
    /// RFC 5780: ask the server to answer from its other IP and/or other port.
    case changeRequest(changeIP: Bool, changePort: Bool)
    case software(String)
    /// The CRC value as found on decode. `STUNMessage.encode` drops it and appends a fresh one.
    case fingerprint(UInt32)
    /// RFC 5780: the address the response was sent from.
    case responseOrigin(STUNAddress)
    /// RFC 5780: the server's other address (other IP and/or port) a CHANGE-REQUEST answers from.
    case otherAddress(STUNAddress)
    /// Any other attribute, value kept as raw bytes (without padding).
    case unknown(type: UInt16, value: [UInt8])

    /// The attribute type codes.
    public enum Code {
        public static let mappedAddress: UInt16 = 0x0001
        public static let changeRequest: UInt16 = 0x0003
        public static let username: UInt16 = 0x0006
        public static let messageIntegrity: UInt16 = 0x0008
        public static let errorCode: UInt16 = 0x0009
        public static let xorMappedAddress: UInt16 = 0x0020
        public static let software: UInt16 = 0x8022
        public static let fingerprint: UInt16 = 0x8028
        public static let responseOrigin: UInt16 = 0x802B
        public static let otherAddress: UInt16 = 0x802C
    }

    /// CHANGE-REQUEST flag bits (RFC 5780 section 7.2).
    public static let changeIPFlag: UInt32 = 0x04
    public static let changePortFlag: UInt32 = 0x02

    public var type: UInt16 {
        switch self {
        case .mappedAddress: Code.mappedAddress
        case .xorMappedAddress: Code.xorMappedAddress
        case .username: Code.username
        case .messageIntegrity: Code.messageIntegrity
        case .errorCode: Code.errorCode
        case .changeRequest: Code.changeRequest
        case .software: Code.software
        case .fingerprint: Code.fingerprint
        case .responseOrigin: Code.responseOrigin
        case .otherAddress: Code.otherAddress
        case .unknown(let type, _): type
        }
    }

    /// The value bytes, without padding. XOR-MAPPED-ADDRESS needs the transaction ID.
    func encodedValue(transactionID: STUNTransactionID) -> [UInt8] {
        switch self {
        case .mappedAddress(let a), .responseOrigin(let a), .otherAddress(let a):
            return STUNAttribute.encodeAddress(a)
        case .xorMappedAddress(let a):
            return STUNAttribute.xorAddress(STUNAttribute.encodeAddress(a), transactionID: transactionID)
        case .username(let s), .software(let s):
            return Array(s.utf8)
        case .messageIntegrity(let mac):
            return mac
        case .errorCode(let code, let reason):
            let cls = UInt8(clamping: (code / 100) & 0x7)
            let number = UInt8(clamping: code % 100)
            return [0, 0, cls, number] + Array(reason.utf8)
        case .changeRequest(let ip, let port):
            var flags: UInt32 = 0
            if ip { flags |= STUNAttribute.changeIPFlag }
            if port { flags |= STUNAttribute.changePortFlag }
            return bigEndianBytes(flags)
        case .fingerprint(let crc):
            return bigEndianBytes(crc)
        case .unknown(_, let value):
            return value
        }
    }

    /// Interprets one attribute's value (padding already stripped).
    static func decode(type: UInt16, value: ArraySlice<UInt8>,
                       transactionID: STUNTransactionID) throws(STUNDecodeError) -> STUNAttribute {
        switch type {
        case Code.mappedAddress:
            return .mappedAddress(try decodeAddress(value, type: type))
        case Code.responseOrigin:
            return .responseOrigin(try decodeAddress(value, type: type))
        case Code.otherAddress:
            return .otherAddress(try decodeAddress(value, type: type))
        case Code.xorMappedAddress:
            let plain = xorAddress(Array(value), transactionID: transactionID)
            return .xorMappedAddress(try decodeAddress(plain[...], type: type))
        case Code.username:
            return .username(try decodeUTF8(value, type: type))
        case Code.software:
            return .software(try decodeUTF8(value, type: type))
        case Code.messageIntegrity:
            try exactLength(value, 20, type: type)
            return .messageIntegrity(Array(value))
        case Code.errorCode:
            guard value.count >= 4 else { throw .truncatedAttribute(type: type, length: value.count, needed: 4) }
            let b = value.startIndex
            let cls = Int(value[b + 2] & 0x07)
            let number = Int(value[b + 3])
            guard number < 100 else {
                throw .malformedAttribute(type: type, reason: "ERROR-CODE number \(number) is over 99")
            }
            let reason = try decodeUTF8(value.dropFirst(4), type: type)
            return .errorCode(code: cls * 100 + number, reason: reason)
        case Code.changeRequest:
            try exactLength(value, 4, type: type)
            let flags = readBigEndianUInt32(value, at: value.startIndex)
            return .changeRequest(changeIP: flags & changeIPFlag != 0, changePort: flags & changePortFlag != 0)
        case Code.fingerprint:
            try exactLength(value, 4, type: type)
            return .fingerprint(readBigEndianUInt32(value, at: value.startIndex))
        default:
            return .unknown(type: type, value: Array(value))
        }
    }

    /// Fixed-size values: shorter is truncated, longer is malformed.
    static func exactLength(_ v: ArraySlice<UInt8>, _ n: Int, type: UInt16) throws(STUNDecodeError) {
        if v.count < n { throw .truncatedAttribute(type: type, length: v.count, needed: n) }
        if v.count > n { throw .malformedAttribute(type: type, reason: "\(v.count) bytes where \(n) belong") }
    }

    static func encodeAddress(_ a: STUNAddress) -> [UInt8] {
        [0, a.family, UInt8(a.port >> 8), UInt8(a.port & 0xFF)] + a.ip
    }

    static func decodeAddress(_ v: ArraySlice<UInt8>, type: UInt16) throws(STUNDecodeError) -> STUNAddress {
        guard v.count >= 4 else { throw .truncatedAttribute(type: type, length: v.count, needed: 4) }
        let b = v.startIndex
        let family = v[b + 1]
        let port = UInt16(v[b + 2]) << 8 | UInt16(v[b + 3])
        let expected: Int
        switch family {
        case STUNAddress.familyIPv4: expected = 8
        case STUNAddress.familyIPv6: expected = 20
        default: throw .malformedAttribute(type: type, reason: "unknown address family \(family)")
        }
        try exactLength(v, expected, type: type)
        return STUNAddress(ip: v.dropFirst(4), port: port)!
    }

    /// XORs the port with the cookie's top 16 bits and the address with the cookie followed by
    /// the transaction ID (RFC 8489 section 14.2): its own inverse. Bytes 0 and 1 (reserved,
    /// family) are left alone, and so is any byte past the 20 an IPv6 address needs.
    static func xorAddress(_ v: [UInt8], transactionID: STUNTransactionID) -> [UInt8] {
        let cookie = STUNMessage.magicCookieBytes
        var out = v
        if out.count > 2 { out[2] ^= cookie[0] }
        if out.count > 3 { out[3] ^= cookie[1] }
        let pad = cookie + transactionID.bytes
        var i = 4
        while i < out.count, i - 4 < pad.count {
            out[i] ^= pad[i - 4]
            i += 1
        }
        return out
    }

    /// Text attributes must be UTF-8; their RFC length limits are not enforced on decode.
    static func decodeUTF8(_ v: ArraySlice<UInt8>, type: UInt16) throws(STUNDecodeError) -> String {
        guard let s = String(validating: v, as: UTF8.self) else {
            throw .malformedAttribute(type: type, reason: "not valid UTF-8")
        }
        return s
    }
}

func bigEndianBytes(_ v: UInt32) -> [UInt8] {
    [UInt8(truncatingIfNeeded: v >> 24), UInt8(truncatingIfNeeded: v >> 16),
     UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
}

func readBigEndianUInt32(_ bytes: ArraySlice<UInt8>, at i: Int) -> UInt32 {
    UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16 | UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3])
}
