/// Why a datagram is not an acceptable STUN message. Decoding never traps; it throws one of these.
public enum STUNDecodeError: Error, Sendable, Hashable {
    /// Fewer than the 20 bytes of a STUN header.
    case tooShort(count: Int)
    /// One of the two top bits of the first byte is set: not STUN (RFC 8489 section 5).
    case notSTUN
    /// Bytes 4..7 are not the magic cookie 0x2112A442.
    case wrongMagicCookie(UInt32)
    /// The header's length is not a multiple of 4, or does not match the bytes after the header.
    case badLength(declared: Int, actual: Int)
    /// A known attribute whose value is shorter than its layout needs (an address shorter than
    /// its family, a 16-byte MESSAGE-INTEGRITY, a 2-byte FINGERPRINT...). Lengths in bytes.
    case truncatedAttribute(type: UInt16, length: Int, needed: Int)
    /// An attribute's declared length (plus padding) runs past the end of the message.
    case attributeOverrun(type: UInt16, offset: Int, length: Int)
    /// A FINGERPRINT attribute whose CRC does not match the message.
    case badFingerprint(expected: UInt32, found: UInt32)
    /// A FINGERPRINT attribute that is not the last attribute.
    case fingerprintNotLast
    /// A known attribute whose value is too long or has bad contents (unknown address family,
    /// invalid UTF-8, error number over 99).
    case malformedAttribute(type: UInt16, reason: String)
}

extension STUNDecodeError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .tooShort(let n): return "STUN: \(n) bytes is shorter than the 20-byte header"
        case .notSTUN: return "STUN: top two bits of the type are not zero"
        case .wrongMagicCookie(let c): return "STUN: wrong magic cookie 0x" + String(c, radix: 16)
        case .badLength(let d, let a): return "STUN: header length \(d) but \(a) bytes follow the header"
        case .truncatedAttribute(let t, let l, let n):
            return "STUN: attribute 0x\(String(t, radix: 16)) has \(l) bytes, needs \(n)"
        case .attributeOverrun(let t, let o, let l):
            return "STUN: attribute 0x\(String(t, radix: 16)) at offset \(o) with length \(l) runs past the end"
        case .badFingerprint(let e, let f):
            return "STUN: FINGERPRINT 0x\(String(f, radix: 16)) does not match 0x\(String(e, radix: 16))"
        case .fingerprintNotLast: return "STUN: FINGERPRINT is not the last attribute"
        case .malformedAttribute(let t, let r): return "STUN: malformed attribute 0x\(String(t, radix: 16)): \(r)"
        }
    }
}
