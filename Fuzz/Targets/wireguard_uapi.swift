// meshd's WireGuard UAPI socket (`wg show` against meshd), the request reader alone
// (Sources/MeshEngine/WireGuardUAPIRequest.swift). First byte: how the rest is split into
// the reads that feed it (0: whole; 1: byte by byte; else pieces of 1-16 bytes chosen by the
// input). A `set` that never ends (refused past `maxSetBytes`, 1 MiB) is
// WireGuardUAPIRequestTests' case: fed here it takes over a second an input under ASan.
// Checked: nothing traps; the answer does not depend on how the bytes are split; once given it
// stays, whatever follows; `get` exactly for a connection that starts "get=1\n\n"; `set` only
// for one that starts "set=1\n" and has an empty line by `maxSetBytes`; no answer only while
// the first line is short and the request could still end.
import MeshEngine

private func feed(_ bytes: [UInt8], split: UInt8, pieces: [UInt8]) -> WireGuardUAPIRequest.Operation? {
    var request = WireGuardUAPIRequest()
    switch split {
    case 0: return request.consume(bytes)
    case 1:
        for b in bytes { request.consume(CollectionOfOne(b)) }
        return request.result
    default:
        var at = 0, k = 0
        while at < bytes.count {
            let n = pieces.isEmpty ? 7 : Int(pieces[k % pieces.count] % 16) + 1
            request.consume(bytes[at..<min(bytes.count, at + n)])
            at += n; k += 1
        }
        return request.result
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var r = FuzzReader(data, size)
    let mode = r.u8()
    let rest = r.rest()
    let whole = feed(rest, split: 0, pieces: [])
    if mode != 0 { precondition(feed(rest, split: mode, pieces: Array(rest.prefix(8))) == whole, "answer differs with the split") }
    // An answer stays whatever comes after it.
    var request = WireGuardUAPIRequest()
    request.consume(rest)
    request.consume(Array("get=1\n\nset=1\n\n".utf8))
    if let whole { precondition(request.result == whole, "an answer changed after more bytes") }

    let startsGet = rest.starts(with: Array("get=1\n\n".utf8))
    let startsSet = rest.starts(with: Array("set=1\n".utf8))
    switch whole {
    case .get?: precondition(startsGet, "get without get=1 and an empty line")
    case .set?:
        precondition(startsSet, "set without set=1")
        let body = rest.dropFirst(6)
        precondition(body.first == UInt8(ascii: "\n") || zip(body, body.dropFirst()).contains { $0 == 10 && $1 == 10 }, "set without an empty line")
    case .invalid?: precondition(!startsGet, "get=1 and an empty line refused")
    case nil:
        let firstLine = rest.firstIndex(of: UInt8(ascii: "\n")).map { rest[..<$0] } ?? rest[...]
        precondition(firstLine.count <= 8, "a first line of \(firstLine.count) bytes left unanswered")
        precondition(!startsGet, "get=1 and an empty line unanswered")
    }
    return 0
}
