// MagicDNS's parser and responder as a client on the overlay reaches them (meshd's DNS address).
// First byte: bit 0 = over TCP (no 512/EDNS size limit). The rest is one DNS message.
// Checked: parsing never traps or loops (compression pointers, 255-byte/127-label limits),
// every answer carries the query's id and is a response, a UDP answer fits what the client
// takes (at most 1232 bytes), and every answer's question (if any) parses again.
import MeshBase
import MeshDNS

private let table = MagicDNSTable(domain: "mesh", entries: [
    .init(name: "a", ipv4: .v4(0x6440_0001), ipv6: .v6(high: 0xFD7A_115C_A1E0_0000, low: 1)),
    .init(name: "b", ipv4: .v4(0x6440_0002), ipv6: nil),
], overlayPrefixes: [try! IPPrefix("100.64.0.0/10"), try! IPPrefix("fd7a:115c:a1e0::/48")])
private let responder = MagicDNSResponder(table: table)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var r = FuzzReader(data, size)
    let overTCP = r.u8() & 1 != 0
    let bytes = r.rest()
    for offset in 0..<min(bytes.count, 64) { _ = try? DNSName.read(bytes, at: offset) }
    switch responder.respond(to: bytes, overTCP: overTCP) {
    case .answer(let out):
        precondition(out.count >= 12 && out[0] == bytes[0] && out[1] == bytes[1], "answer without the query's id")
        precondition(out[2] & 0x80 != 0, "answer is not a response")
        if !overTCP { precondition(out.count <= Int(MagicDNSResponder.maxUDPPayload), "UDP answer too large") }
        if out[5] == 1 {
            var asQuery = out
            asQuery[2] &= 0x7F
            asQuery[7] = 0; asQuery[9] = 0; asQuery[11] = 0
            _ = try? DNSQuery.parse(Array(asQuery))
        }
    case .forward(let q):
        precondition(q.id == UInt16(bytes[0]) << 8 | UInt16(bytes[1]))
    case .drop:
        break
    }
    return 0
}
