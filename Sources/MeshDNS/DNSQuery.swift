/// A DNS query as a stub resolver sends it: the RFC 1035 header, exactly one question, and,
/// from the additional section, the EDNS0 OPT record (RFC 6891) if there is one. The answer and
/// authority sections are skipped over (each record costs at least 11 bytes, so the work is
/// bounded by the message's length).
public struct DNSQuery: Sendable, Equatable {
    public var id: UInt16
    /// The header's second 16 bits (QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode) as sent.
    public var flags: UInt16
    public var name: DNSName
    public var type: UInt16
    public var qclass: UInt16
    /// The client's EDNS0 OPT record, when it sent one.
    public var edns: EDNS?

    public struct EDNS: Sendable, Equatable {
        /// The largest UDP answer the client takes (values below 512 count as 512, RFC 6891 6.2.3).
        public var udpPayloadSize: UInt16
        public var version: UInt8
        /// The DO bit (DNSSEC OK), echoed back in the answer's OPT.
        public var dnssecOK: Bool
    }

    public var opcode: UInt8 { UInt8(truncatingIfNeeded: (flags >> 11) & 0x0F) }
    public var recursionDesired: Bool { flags & 0x0100 != 0 }
    public var checkingDisabled: Bool { flags & 0x0010 != 0 }

    public static let headerLength = 12

    public static func parse(_ bytes: [UInt8]) throws(DNSParseError) -> DNSQuery {
        guard bytes.count >= headerLength else { throw .truncated }
        func u16(_ at: Int) -> UInt16 { UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1]) }
        let id = u16(0), flags = u16(2)
        guard flags & 0x8000 == 0 else { throw .notAQuery }
        guard u16(4) == 1 else { throw .questionCount }
        let (name, afterName) = try DNSName.read(bytes, at: headerLength)
        guard afterName + 4 <= bytes.count else { throw .truncated }
        var query = DNSQuery(id: id, flags: flags, name: name, type: u16(afterName), qclass: u16(afterName + 2), edns: nil)
        var at = afterName + 4
        let skipped = Int(u16(6)) + Int(u16(8))
        let additional = Int(u16(10))
        for index in 0..<(skipped + additional) {
            let (_, afterOwner) = try DNSName.read(bytes, at: at)
            guard afterOwner + 10 <= bytes.count else { throw .truncated }
            let type = u16(afterOwner)
            let rdLength = Int(u16(afterOwner + 8))
            guard afterOwner + 10 + rdLength <= bytes.count else { throw .truncated }
            if index >= skipped, type == DNSRecordType.opt, query.edns == nil {
                let ttl = UInt32(u16(afterOwner + 4)) << 16 | UInt32(u16(afterOwner + 6))
                query.edns = EDNS(udpPayloadSize: u16(afterOwner + 2),
                                  version: UInt8(truncatingIfNeeded: ttl >> 16),
                                  dnssecOK: ttl & 0x8000 != 0)
            }
            at = afterOwner + 10 + rdLength
        }
        return query
    }

    /// The id and flags of a message too broken to parse, so a FORMERR can still go back to
    /// the client that sent it; nil when it is not even a header or is itself a response.
    public static func headerOfQuery(_ bytes: [UInt8]) -> (id: UInt16, flags: UInt16)? {
        guard bytes.count >= headerLength, bytes[2] & 0x80 == 0 else { return nil }
        return (UInt16(bytes[0]) << 8 | UInt16(bytes[1]), UInt16(bytes[2]) << 8 | UInt16(bytes[3]))
    }
}
