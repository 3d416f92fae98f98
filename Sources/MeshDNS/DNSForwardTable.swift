import MeshBase

/// The queries MagicDNS has passed to the host's resolvers and is waiting on (pure: the driver
/// supplies the clock and the random bytes, and carries out what it returns).
///
/// Why it looks like this:
/// - Every forwarded query goes out under a fresh random ID (and a fresh one again for each
///   retry), never the client's: an off-path sender who wants to slip an answer in must guess
///   16 bits per query, and two clients that happen to use the same ID do not get each other's
///   answers. An answer is taken only from the upstream that was asked, with the ID sent to it
///   and the question asked; anything else is ignored.
/// - The table is bounded (`capacity`); a query beyond it gets SERVFAIL at once (the queries
///   already waiting keep their place), so a flood of queries costs memory for `capacity`
///   queries of at most `maxQueryBytes` each.
/// - Each upstream gets `timeout` to answer; then the next one in the list is asked, and after
///   the last the client gets SERVFAIL.
public struct DNSForwardTable<Client: Sendable>: Sendable {
    public static var defaultCapacity: Int { 256 }
    public static var defaultTimeout: Duration { .seconds(2) }
    /// Queries longer than this are not forwarded (a stub's query is well under 512 bytes; an
    /// EDNS query with a cookie about 60).
    public static var maxQueryBytes: Int { 4096 }

    /// What the driver does next.
    public enum Action: Sendable {
        /// Send `bytes` to `upstream` over UDP.
        case send([UInt8], to: DNSUpstream)
        /// Send `bytes` back to `client` (UDP, or TCP with the length in front when `overTCP`).
        case reply([UInt8], to: Client, overTCP: Bool)
        /// The upstream's UDP answer was truncated (TC) and the client asked over TCP, where a
        /// whole answer fits: ask `upstream` again over TCP with the client's own `query`; its
        /// answer (checked with `isAnswer`) goes to `client`, or SERVFAIL (`failure`) if none
        /// comes within the timeout.
        case retryOverTCP(query: [UInt8], parsed: DNSQuery, to: DNSUpstream, client: Client)
    }

    public enum Outcome: Sendable, Equatable {
        case forwarded, refusedFull, noUpstream, failedAfterTimeouts
    }

    struct Pending: Sendable {
        var client: Client
        var clientID: UInt16
        var query: DNSQuery
        var bytes: [UInt8]
        var overTCP: Bool
        var upstreamIndex: Int
        var upstream: DNSUpstream
        var deadline: MonotonicTime
    }

    public var upstreams: [DNSUpstream]
    public let capacity: Int
    public let timeout: Duration
    private var pending: [UInt16: Pending] = [:]

    public init(upstreams: [DNSUpstream], capacity: Int = Self.defaultCapacity, timeout: Duration = Self.defaultTimeout) {
        self.upstreams = upstreams
        self.capacity = max(1, capacity)
        self.timeout = timeout
    }

    public var inFlight: Int { pending.count }

    /// A query the responder did not answer: to the first upstream under a new ID, or SERVFAIL
    /// when there is no upstream, the table is full or the query is too long.
    public mutating func forward(_ bytes: [UInt8], query: DNSQuery, from client: Client, overTCP: Bool,
                                 now: MonotonicTime, entropy: inout some EntropySource) -> (Action, Outcome) {
        let failure = Action.reply(MagicDNSResponder.serverFailure(for: query, overTCP: overTCP), to: client, overTCP: overTCP)
        guard let first = upstreams.first, bytes.count >= DNSQuery.headerLength, bytes.count <= Self.maxQueryBytes else {
            return (failure, .noUpstream)
        }
        guard pending.count < capacity, let id = freshID(&entropy) else { return (failure, .refusedFull) }
        var out = bytes
        Self.setID(&out, id)
        pending[id] = Pending(client: client, clientID: query.id, query: query, bytes: bytes, overTCP: overTCP,
                              upstreamIndex: 0, upstream: first, deadline: now + timeout)
        return (.send(out, to: first), .forwarded)
    }

    /// An answer that came from `source`: back to its client under the client's ID, or nil
    /// when it is not the answer to a query we sent there (a stray, late or forged datagram).
    public mutating func receive(_ bytes: [UInt8], from source: DNSUpstream) -> Action? {
        guard bytes.count >= DNSQuery.headerLength, bytes[2] & 0x80 != 0 else { return nil }
        let id = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        guard let p = pending[id], p.upstream == source, Self.sameQuestion(bytes, as: p.query) else { return nil }
        pending[id] = nil
        if p.overTCP, bytes[2] & 0x02 != 0 {
            return .retryOverTCP(query: p.bytes, parsed: p.query, to: source, client: p.client)
        }
        var out = bytes
        Self.setID(&out, p.clientID)
        return .reply(out, to: p.client, overTCP: p.overTCP)
    }

    /// The queries whose upstream did not answer by `now`: each to the next upstream (new ID),
    /// or SERVFAIL to its client after the last one.
    public mutating func expire(now: MonotonicTime, entropy: inout some EntropySource) -> [(Action, Outcome)] {
        var out: [(Action, Outcome)] = []
        for (id, p) in pending where !(now < p.deadline) {
            pending[id] = nil
            let next = p.upstreamIndex + 1
            if next < upstreams.count, let fresh = freshID(&entropy) {
                var retry = p
                retry.upstreamIndex = next
                retry.upstream = upstreams[next]
                retry.deadline = now + timeout
                var bytes = p.bytes
                Self.setID(&bytes, fresh)
                pending[fresh] = retry
                out.append((.send(bytes, to: retry.upstream), .forwarded))
            } else {
                out.append((.reply(MagicDNSResponder.serverFailure(for: p.query, overTCP: p.overTCP), to: p.client,
                                   overTCP: p.overTCP), .failedAfterTimeouts))
            }
        }
        return out
    }

    /// Drops the queries of clients that went away (a closed TCP connection).
    public mutating func removeAll(where gone: (Client) -> Bool) {
        pending = pending.filter { !gone($0.value.client) }
    }

    /// An ID no waiting query has; nil after 16 draws that all collided (a full table holds
    /// 256 of 65536 IDs, so that takes luck or a broken entropy source).
    private func freshID(_ entropy: inout some EntropySource) -> UInt16? {
        for _ in 0..<16 {
            let id = UInt16(truncatingIfNeeded: entropy.nextUInt32())
            if pending[id] == nil { return id }
        }
        return nil
    }

    private static func setID(_ bytes: inout [UInt8], _ id: UInt16) {
        bytes[0] = UInt8(truncatingIfNeeded: id >> 8)
        bytes[1] = UInt8(truncatingIfNeeded: id)
    }

    /// Whether `bytes` (from a TCP connection to an upstream) answers `query`: a response, its ID,
    /// its question.
    public static func isAnswer(_ bytes: [UInt8], to query: DNSQuery) -> Bool {
        bytes.count >= DNSQuery.headerLength && bytes[2] & 0x80 != 0
            && UInt16(bytes[0]) << 8 | UInt16(bytes[1]) == query.id && sameQuestion(bytes, as: query)
    }

    /// One question, the one asked (the name in any case: resolvers may echo it differently).
    static func sameQuestion(_ bytes: [UInt8], as query: DNSQuery) -> Bool {
        guard bytes.count >= DNSQuery.headerLength, bytes[4] == 0, bytes[5] == 1,
              let (name, next) = try? DNSName.read(bytes, at: DNSQuery.headerLength), next + 4 <= bytes.count else { return false }
        let type = UInt16(bytes[next]) << 8 | UInt16(bytes[next + 1])
        let qclass = UInt16(bytes[next + 2]) << 8 | UInt16(bytes[next + 3])
        return type == query.type && qclass == query.qclass && name.lowercased == query.name.lowercased
    }
}
