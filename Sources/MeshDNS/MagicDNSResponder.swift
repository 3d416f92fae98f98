import MeshBase

/// What to do with one message that arrived at the MagicDNS address.
public enum MagicDNSDecision: Sendable, Equatable {
    /// Ours (a name under the domain, a reverse name of the overlay, or a broken query):
    /// send these bytes back.
    case answer([UInt8])
    /// Not ours: pass the client's bytes to the host's resolvers unchanged.
    case forward(DNSQuery)
    /// Not a query at all (too short, or a response): nothing goes back.
    case drop
}

/// MagicDNS's answers (pure): A/AAAA for `<name>.<domain>` and for the coordinator's extra
/// records (any name; a node's own name cannot be taken by one), PTR for the overlay's addresses,
/// NXDOMAIN for other names under the domain or addresses in the overlay, and "forward" for
/// everything else. The TTL is short because the names follow the netmap: a cache that kept
/// them for minutes would hide a rename the node itself learns within a second.
public struct MagicDNSResponder: Sendable {
    public var table: MagicDNSTable
    public var ttl: UInt32
    /// The largest UDP answer we send whatever the client offers (the DNS flag day 2020 value:
    /// no IP fragmentation on any usual path).
    public static let maxUDPPayload: UInt16 = 1232

    public init(table: MagicDNSTable, ttl: UInt32 = 1) {
        self.table = table
        self.ttl = ttl
    }

    public func respond(to bytes: [UInt8], overTCP: Bool) -> MagicDNSDecision {
        let query: DNSQuery
        do { query = try DNSQuery.parse(bytes) } catch {
            guard let header = DNSQuery.headerOfQuery(bytes) else { return .drop }
            return .answer(Self.bareHeader(id: header.id, requestFlags: header.flags, rcode: .formatError))
        }
        guard query.opcode == 0 else {
            return .answer(Self.bareHeader(id: query.id, requestFlags: query.flags, rcode: .notImplemented))
        }
        if let edns = query.edns, edns.version != 0 {
            return .answer(message(for: query, rcode: .badVersion, answers: [], overTCP: overTCP))
        }
        let name = query.name
        if let extra = table.extraAddresses(for: name) {
            var answers: [[UInt8]] = []
            if query.qclass == DNSRecordType.classIN || query.qclass == DNSRecordType.any {
                for address in extra {
                    let type = address.isV4 ? DNSRecordType.a : DNSRecordType.aaaa
                    if query.type == type || query.type == DNSRecordType.any {
                        answers.append(record(type: type, data: address.networkBytes))
                    }
                }
            }
            return .answer(message(for: query, rcode: .noError, answers: answers, overTCP: overTCP))
        }
        if name.isSubdomain(of: table.domain) {
            guard let entry = table.entry(for: name) else {
                // The domain's apex exists (it holds the nodes) but has no records of its own.
                let apex = name.labels.count == table.domain.labels.count
                return .answer(message(for: query, rcode: apex ? .noError : .nameError, answers: [], overTCP: overTCP))
            }
            var answers: [[UInt8]] = []
            if query.qclass == DNSRecordType.classIN || query.qclass == DNSRecordType.any {
                if query.type == DNSRecordType.a || query.type == DNSRecordType.any, let v4 = entry.ipv4 {
                    answers.append(record(type: DNSRecordType.a, data: v4.networkBytes))
                }
                if query.type == DNSRecordType.aaaa || query.type == DNSRecordType.any, let v6 = entry.ipv6 {
                    answers.append(record(type: DNSRecordType.aaaa, data: v6.networkBytes))
                }
            }
            return .answer(message(for: query, rcode: .noError, answers: answers, overTCP: overTCP))
        }
        if ReverseName.isReverse(name), let address = ReverseName.address(of: name), table.isOverlay(address) {
            guard let target = table.name(for: address) else {
                return .answer(message(for: query, rcode: .nameError, answers: [], overTCP: overTCP))
            }
            var answers: [[UInt8]] = []
            if query.type == DNSRecordType.ptr || query.type == DNSRecordType.any,
               query.qclass == DNSRecordType.classIN || query.qclass == DNSRecordType.any {
                answers.append(record(type: DNSRecordType.ptr, data: target.wire))
            }
            return .answer(message(for: query, rcode: .noError, answers: answers, overTCP: overTCP))
        }
        return .forward(query)
    }

    /// One answer record whose owner is the question's name (a pointer to offset 12).
    private func record(type: UInt16, data: [UInt8]) -> [UInt8] {
        var r: [UInt8] = [0xC0, 0x0C]
        Self.append16(&r, type)
        Self.append16(&r, DNSRecordType.classIN)
        Self.append16(&r, UInt16(truncatingIfNeeded: ttl >> 16))
        Self.append16(&r, UInt16(truncatingIfNeeded: ttl))
        Self.append16(&r, UInt16(truncatingIfNeeded: data.count))
        return r + data
    }

    /// Header, the question as asked (its case kept, RFC 4343 4.1), the answers, and an OPT when
    /// the client sent one. Over UDP, an answer beyond what the client takes loses its records
    /// and says TC so the client asks again over TCP.
    func message(for query: DNSQuery, rcode: DNSResponseCode, answers: [[UInt8]], overTCP: Bool) -> [UInt8] {
        Self.compose(for: query, rcode: rcode, answers: answers, overTCP: overTCP, authoritative: true)
    }

    /// SERVFAIL for a query this node could not get forwarded (no upstream answered in time, or
    /// too many queries in flight): not authoritative, the question echoed.
    public static func serverFailure(for query: DNSQuery, overTCP: Bool) -> [UInt8] {
        compose(for: query, rcode: .serverFailure, answers: [], overTCP: overTCP, authoritative: false)
    }

    static func compose(for query: DNSQuery, rcode: DNSResponseCode, answers: [[UInt8]], overTCP: Bool,
                        authoritative: Bool) -> [UInt8] {
        let limit: Int
        if overTCP {
            limit = Int(UInt16.max)
        } else if let edns = query.edns {
            limit = Int(min(max(edns.udpPayloadSize, 512), Self.maxUDPPayload))
        } else {
            limit = 512
        }
        var opt: [UInt8] = []
        if let edns = query.edns {
            // Root owner, type OPT, our payload size, extended rcode, version 0, DO echoed, no options.
            opt = [0]
            Self.append16(&opt, DNSRecordType.opt)
            Self.append16(&opt, Self.maxUDPPayload)
            opt.append(UInt8(truncatingIfNeeded: rcode.rawValue >> 4))
            opt.append(0)
            Self.append16(&opt, edns.dnssecOK ? 0x8000 : 0)
            Self.append16(&opt, 0)
        }
        var question = query.name.wire
        Self.append16(&question, query.type)
        Self.append16(&question, query.qclass)
        var records = answers
        var truncated = false
        let body = answers.reduce(0) { $0 + $1.count }
        if DNSQuery.headerLength + question.count + body + opt.count > limit {
            records = []
            truncated = true
        }
        var out: [UInt8] = []
        Self.append16(&out, query.id)
        // QR, opcode 0, AA; RD and CD copied; RA (we forward the rest).
        var flags: UInt16 = 0x8000 | (authoritative ? 0x0400 : 0) | 0x0080 | (query.flags & 0x0110)
        if truncated { flags |= 0x0200 }
        flags |= rcode.rawValue & 0x0F
        Self.append16(&out, flags)
        Self.append16(&out, 1)
        Self.append16(&out, UInt16(truncatingIfNeeded: records.count))
        Self.append16(&out, 0)
        Self.append16(&out, opt.isEmpty ? 0 : 1)
        out += question
        for r in records { out += r }
        out += opt
        return out
    }

    /// A header-only answer (no question) for a query we could not read or do not implement.
    static func bareHeader(id: UInt16, requestFlags: UInt16, rcode: DNSResponseCode) -> [UInt8] {
        var out: [UInt8] = []
        append16(&out, id)
        append16(&out, 0x8000 | (requestFlags & 0x7900) | 0x0080 | (rcode.rawValue & 0x0F))
        out += [0, 0, 0, 0, 0, 0, 0, 0]
        return out
    }

    static func append16(_ out: inout [UInt8], _ v: UInt16) {
        out.append(UInt8(truncatingIfNeeded: v >> 8))
        out.append(UInt8(truncatingIfNeeded: v))
    }
}
