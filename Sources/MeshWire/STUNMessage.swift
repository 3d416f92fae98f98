/// A STUN message (RFC 8489): a 20-byte header (type, length, magic cookie, transaction ID)
/// and a list of attributes, each padded to 4 bytes. Pure: no sockets, clock or randomness;
/// the caller supplies transaction IDs.
///
/// Encoding rules: `encode` writes `attributes` in order, except that any `.messageIntegrity`
/// and `.fingerprint` entries are dropped and recomputed at the end: MESSAGE-INTEGRITY when an
/// `integrityKey` is given, then FINGERPRINT when `fingerprint` is true. Padding bytes are
/// `padding` (0 by default; RFC 5769's vectors use 0x20), and receivers ignore them.
///
/// Decoding rules: the header's length must match the datagram exactly; a FINGERPRINT must be
/// the last attribute and must verify; attributes after MESSAGE-INTEGRITY other than
/// FINGERPRINT are ignored (RFC 8489 section 14.5). MESSAGE-INTEGRITY is only checked by
/// `verifyMessageIntegrity`, which needs the key and the original bytes.
public struct STUNMessage: Sendable, Hashable {
    public static let headerLength = 20
    public static let magicCookie: UInt32 = 0x2112_A442
    public static let magicCookieBytes: [UInt8] = [0x21, 0x12, 0xA4, 0x42]
    /// XORed into the CRC-32 of a FINGERPRINT attribute ("STUN").
    public static let fingerprintXOR: UInt32 = 0x5354_554E

    public var type: STUNMessageType
    public var transactionID: STUNTransactionID
    public var attributes: [STUNAttribute]

    public init(type: STUNMessageType, transactionID: STUNTransactionID, attributes: [STUNAttribute] = []) {
        self.type = type
        self.transactionID = transactionID
        self.attributes = attributes
    }

    // MARK: - Demultiplexing

    /// DESIGN.md section 3: at least a header's worth of bytes, top two bits 00, and bytes
    /// 4..7 = 21 12 A4 42. Cheap; says nothing about whether the rest decodes.
    public static func looksLikeSTUN(_ bytes: some Collection<UInt8>) -> Bool {
        guard bytes.count >= headerLength else { return false }
        var i = bytes.startIndex
        guard bytes[i] & 0xC0 == 0 else { return false }
        i = bytes.index(i, offsetBy: 4)
        for m in magicCookieBytes {
            guard bytes[i] == m else { return false }
            i = bytes.index(after: i)
        }
        return true
    }

    // MARK: - Encoding

    public func encode(fingerprint: Bool = true, integrityKey: [UInt8]? = nil, padding: UInt8 = 0) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        let raw = type.rawValue
        out += [UInt8(raw >> 8), UInt8(raw & 0xFF), 0, 0]
        out += STUNMessage.magicCookieBytes
        out += transactionID.bytes
        for attribute in attributes {
            switch attribute {
            case .messageIntegrity, .fingerprint: continue
            default: STUNMessage.append(attribute, to: &out, transactionID: transactionID, padding: padding)
            }
        }
        if let key = integrityKey {
            // The length field covers the MESSAGE-INTEGRITY attribute itself (RFC 8489 14.5).
            STUNMessage.setLength(&out, out.count - STUNMessage.headerLength + 24)
            let mac = STUNHMACSHA1.authenticate(key: key, message: out)
            STUNMessage.append(.messageIntegrity(mac), to: &out, transactionID: transactionID, padding: padding)
        }
        if fingerprint {
            STUNMessage.setLength(&out, out.count - STUNMessage.headerLength + 8)
            let crc = STUNCRC32.checksum(out) ^ STUNMessage.fingerprintXOR
            STUNMessage.append(.fingerprint(crc), to: &out, transactionID: transactionID, padding: padding)
        }
        STUNMessage.setLength(&out, out.count - STUNMessage.headerLength)
        return out
    }

    private static func append(_ attribute: STUNAttribute, to out: inout [UInt8],
                               transactionID: STUNTransactionID, padding: UInt8) {
        let value = attribute.encodedValue(transactionID: transactionID)
        precondition(value.count <= 0xFFFF - 4, "STUN attribute value too long")
        let t = attribute.type
        out += [UInt8(t >> 8), UInt8(t & 0xFF), UInt8(value.count >> 8), UInt8(value.count & 0xFF)]
        out += value
        let pad = (4 - value.count % 4) % 4
        out += [UInt8](repeating: padding, count: pad)
    }

    private static func setLength(_ out: inout [UInt8], _ length: Int) {
        precondition(length <= 0xFFFF, "STUN message too long")
        out[2] = UInt8(length >> 8)
        out[3] = UInt8(length & 0xFF)
    }

    // MARK: - Decoding

    public static func decode(_ bytes: some Collection<UInt8>) throws(STUNDecodeError) -> STUNMessage {
        try walk(Array(bytes)).message
    }

    /// Structural parse shared by `decode` and `verifyMessageIntegrity`: the message, and the
    /// offset of its MESSAGE-INTEGRITY attribute, if any.
    private static func walk(_ b: [UInt8]) throws(STUNDecodeError) -> (message: STUNMessage, integrityOffset: Int?) {
        guard b.count >= headerLength else { throw .tooShort(count: b.count) }
        guard b[0] & 0xC0 == 0, let type = STUNMessageType(rawValue: UInt16(b[0]) << 8 | UInt16(b[1])) else {
            throw .notSTUN
        }
        let cookie = readBigEndianUInt32(b[...], at: 4)
        guard cookie == magicCookie else { throw .wrongMagicCookie(cookie) }
        let length = Int(b[2]) << 8 | Int(b[3])
        guard length % 4 == 0, length == b.count - headerLength else {
            throw .badLength(declared: length, actual: b.count - headerLength)
        }
        let tid = STUNTransactionID(b[8..<20])!

        var attributes: [STUNAttribute] = []
        var offset = headerLength
        var integrityOffset: Int? = nil
        var sawFingerprint = false
        while offset < b.count {
            // Offsets and the length are multiples of 4, so a whole attribute header is here.
            if sawFingerprint { throw .fingerprintNotLast }
            let attrType = UInt16(b[offset]) << 8 | UInt16(b[offset + 1])
            let attrLength = Int(b[offset + 2]) << 8 | Int(b[offset + 3])
            let padded = (attrLength + 3) & ~3
            guard padded <= b.count - offset - 4 else {
                throw .attributeOverrun(type: attrType, offset: offset, length: attrLength)
            }
            let value = b[(offset + 4)..<(offset + 4 + attrLength)]
            if attrType == STUNAttribute.Code.fingerprint {
                let attribute = try STUNAttribute.decode(type: attrType, value: value, transactionID: tid)
                guard case .fingerprint(let found) = attribute else { fatalError("unreachable") }
                var prefix = Array(b[0..<offset])
                let lengthWithFingerprint = offset - headerLength + 8
                prefix[2] = UInt8(lengthWithFingerprint >> 8)
                prefix[3] = UInt8(lengthWithFingerprint & 0xFF)
                let expected = STUNCRC32.checksum(prefix) ^ fingerprintXOR
                guard expected == found else { throw .badFingerprint(expected: expected, found: found) }
                attributes.append(attribute)
                sawFingerprint = true
            } else if integrityOffset == nil {
                let attribute = try STUNAttribute.decode(type: attrType, value: value, transactionID: tid)
                if case .messageIntegrity = attribute { integrityOffset = offset }
                attributes.append(attribute)
            }
            // else: after MESSAGE-INTEGRITY and not FINGERPRINT: ignored.
            offset += 4 + padded
        }
        return (STUNMessage(type: type, transactionID: tid, attributes: attributes), integrityOffset)
    }

    /// Checks MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 section 14.5) of an encoded message with
    /// `key` (for short-term credentials: the password's UTF-8 bytes). False when the message
    /// has no MESSAGE-INTEGRITY or it does not match; throws when the bytes do not decode.
    public static func verifyMessageIntegrity(_ bytes: some Collection<UInt8>, key: [UInt8]) throws(STUNDecodeError) -> Bool {
        let b = Array(bytes)
        guard let offset = try walk(b).integrityOffset else { return false }
        var prefix = Array(b[0..<offset])
        let lengthWithIntegrity = offset - headerLength + 24
        prefix[2] = UInt8(lengthWithIntegrity >> 8)
        prefix[3] = UInt8(lengthWithIntegrity & 0xFF)
        let expected = STUNHMACSHA1.authenticate(key: key, message: prefix)
        let found = b[(offset + 4)..<(offset + 24)]
        var diff: UInt8 = 0
        for (x, y) in zip(expected, found) { diff |= x ^ y }
        return diff == 0
    }

    // MARK: - Builders

    /// A Binding request; with `changeIP`/`changePort` it carries an RFC 5780 CHANGE-REQUEST.
    public static func bindingRequest(transactionID: STUNTransactionID, changeIP: Bool = false,
                                      changePort: Bool = false) -> STUNMessage {
        var attributes: [STUNAttribute] = []
        if changeIP || changePort { attributes.append(.changeRequest(changeIP: changeIP, changePort: changePort)) }
        return STUNMessage(type: .bindingRequest, transactionID: transactionID, attributes: attributes)
    }

    /// A Binding success response carrying XOR-MAPPED-ADDRESS, then optionally SOFTWARE,
    /// RESPONSE-ORIGIN and OTHER-ADDRESS.
    public static func bindingSuccess(transactionID: STUNTransactionID, mapped: STUNAddress,
                                      software: String? = nil, responseOrigin: STUNAddress? = nil,
                                      otherAddress: STUNAddress? = nil) -> STUNMessage {
        var attributes: [STUNAttribute] = [.xorMappedAddress(mapped)]
        if let software { attributes.append(.software(software)) }
        if let responseOrigin { attributes.append(.responseOrigin(responseOrigin)) }
        if let otherAddress { attributes.append(.otherAddress(otherAddress)) }
        return STUNMessage(type: .bindingSuccess, transactionID: transactionID, attributes: attributes)
    }

    /// `mapped` given as raw address bytes (4 or 16) and a port; nil if the byte count is wrong.
    public static func bindingSuccess(transactionID: STUNTransactionID, mapped: (ip: [UInt8], port: UInt16),
                                      software: String? = nil) -> STUNMessage? {
        guard let address = STUNAddress(ip: mapped.ip, port: mapped.port) else { return nil }
        return bindingSuccess(transactionID: transactionID, mapped: address, software: software)
    }

    /// A Binding error response with ERROR-CODE (and optionally SOFTWARE).
    public static func bindingError(transactionID: STUNTransactionID, code: Int, reason: String,
                                    software: String? = nil) -> STUNMessage {
        var attributes: [STUNAttribute] = [.errorCode(code: code, reason: reason)]
        if let software { attributes.append(.software(software)) }
        return STUNMessage(type: .bindingError, transactionID: transactionID, attributes: attributes)
    }

    // MARK: - Accessors (first occurrence)

    public var xorMappedAddress: STUNAddress? {
        for case .xorMappedAddress(let a) in attributes { return a }
        return nil
    }

    public var mappedAddress: STUNAddress? {
        for case .mappedAddress(let a) in attributes { return a }
        return nil
    }

    /// XOR-MAPPED-ADDRESS if present, else the legacy MAPPED-ADDRESS.
    public var reflexiveAddress: STUNAddress? { xorMappedAddress ?? mappedAddress }

    public var responseOrigin: STUNAddress? {
        for case .responseOrigin(let a) in attributes { return a }
        return nil
    }

    public var otherAddress: STUNAddress? {
        for case .otherAddress(let a) in attributes { return a }
        return nil
    }

    public var software: String? {
        for case .software(let s) in attributes { return s }
        return nil
    }

    public var username: String? {
        for case .username(let s) in attributes { return s }
        return nil
    }

    public var errorCode: (code: Int, reason: String)? {
        for case .errorCode(let code, let reason) in attributes { return (code, reason) }
        return nil
    }

    public var changeRequest: (changeIP: Bool, changePort: Bool)? {
        for case .changeRequest(let ip, let port) in attributes { return (ip, port) }
        return nil
    }

    public var hasFingerprint: Bool {
        attributes.contains { if case .fingerprint = $0 { true } else { false } }
    }
}
