// meshd's local API request (Sources/MeshLocalAPI/LocalAPIRequest.swift), framed as the daemon
// frames it (Sources/MeshEngine/LocalAPI.swift): text up to the first "\n" Character, spaces
// trimmed, at most 4096 bytes. Checked: nothing traps; a request that parses writes (`line`) a
// line that parses to the same request, with a peer and timeout within their bounds, and only
// down, up and logout change state; every refusal is one line unless the line itself carried a
// CRLF (see below), and short (an unknown verb is echoed cut to 64 characters).
import Foundation
import MeshLocalAPI

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let pending = String(decoding: UnsafeBufferPointer(start: data, count: min(size, 4096)), as: UTF8.self)
    let line = (pending.firstIndex(of: "\n").map { pending[..<$0] } ?? pending[...]).trimmingCharacters(in: .whitespaces)
    do {
        let request = try LocalAPIRequest(line: line)
        let again = try LocalAPIRequest(line: request.line)
        precondition(again == request, "\(request) does not read back from its line")
        precondition(LocalAPIRequest.known.contains(String(request.line.prefix { $0 != " " })), "a verb not in known")
        switch request {
        case .ping(let peer, let timeout):
            precondition(!peer.isEmpty && peer.utf8.count <= LocalAPIRequest.maxPeerLength && !peer.contains(" "), "ping peer out of bounds")
            precondition(LocalAPIRequest.pingTimeoutRange.contains(timeout), "ping timeout out of range")
            precondition(!request.changesState)
        case .down, .up, .logout: precondition(request.changesState)
        default: precondition(!request.changesState)
        }
    } catch {
        let text = error.description
        // A newline in a refusal only when the client's line held one: the daemon's framing
        // looks for a "\n" Character, which "\r\n" is not, so a CRLF stays in the line.
        precondition(!text.isEmpty && (!text.unicodeScalars.contains("\n") || line.unicodeScalars.contains("\n")), "a refusal spans lines")
        precondition(text.utf8.count <= 64 * 4 + 120, "refusal of \(text.utf8.count) bytes")
    }
    return 0
}
