// MagicDNS's forwarder (DNSForwardTable) and TCP framing (DNSTCPFramer) as clients and upstreams
// (or anyone who can send to the forwarder's socket) drive them. The input is a program: each
// step's first byte picks forward (a client's query, its bytes from the input), an answer (from
// the upstream asked, or from another address), the clock moving on, or bytes for a TCP framer.
// Checked: nothing traps; at most `capacity` queries wait; an answer goes back only under the
// ID its client used and only for a query that client sent; the framer never holds more than
// one message and each message it yields is what its length said.
import MeshBase
import MeshDNS

private let upstreams = [DNSUpstream(address: .v4(0xCB00_7135)), DNSUpstream(address: .v6(high: 0x2001_0DB8_0000_0000, low: 0x53))]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var r = FuzzReader(data, size)
    var table = DNSForwardTable<Int>(upstreams: upstreams, capacity: 8, timeout: .seconds(2))
    var entropy = SeededEntropy(seed: UInt64(r.u8()))
    var now = MonotonicTime(nanoseconds: 1_000_000_000)
    var framer = DNSTCPFramer()
    var clientIDs: [Int: UInt16] = [:]
    var nextClient = 0
    var lastSent: [UInt8] = []
    func check(_ action: DNSForwardTable<Int>.Action) {
        switch action {
        case .send(let bytes, _):
            lastSent = bytes
        case .reply(let bytes, let client, _):
            guard let id = clientIDs[client] else { preconditionFailure("a reply for a client that never asked") }
            precondition(bytes.count >= 12 && UInt16(bytes[0]) << 8 | UInt16(bytes[1]) == id, "a reply under another ID")
            precondition(bytes[2] & 0x80 != 0, "a reply that is not a response")
        case .retryOverTCP(let query, let parsed, _, let client):
            precondition(clientIDs[client] == parsed.id && query.count >= 12, "a TCP retry for another client's query")
        }
    }
    for _ in 0..<64 where !r.isAtEnd {
        switch r.u8() % 5 {
        case 0:
            let bytes = r.chunk()
            guard let q = try? DNSQuery.parse(bytes) else { continue }
            clientIDs[nextClient] = q.id
            let (action, _) = table.forward(bytes, query: q, from: nextClient, overTCP: r.u8() & 1 != 0, now: now, entropy: &entropy)
            nextClient += 1
            check(action)
        case 1:
            // An answer built on the last query sent (its ID), with fuzzed flags and body.
            guard lastSent.count >= 12 else { continue }
            var answer = lastSent
            answer[2] = r.u8(); answer[3] = r.u8()
            answer += r.chunk()
            if let action = table.receive(answer, from: upstreams[Int(r.u8() % 2)]) { check(action) }
        case 2:
            if let action = table.receive(r.chunk(), from: DNSUpstream(address: .v4(r.u8() % 2 == 0 ? 0xCB00_7135 : 1), port: r.u16())) {
                check(action)
            }
        case 3:
            now = now + .milliseconds(Int64(r.u16()))
            for (action, _) in table.expire(now: now, entropy: &entropy) { check(action) }
        default:
            let bytes = r.chunk()
            for m in framer.append(bytes) { precondition(!m.isEmpty && m.count <= 65535) }
            precondition(framer.bufferedCount <= DNSTCPFramer.maxBuffered)
        }
        precondition(table.inFlight <= table.capacity, "the table outgrew its bound")
    }
    return 0
}
