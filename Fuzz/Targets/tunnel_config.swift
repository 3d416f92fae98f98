// The wg-quick style config file parser (meshd standalone mode), plus the address, prefix and
// endpoint parsers it uses, on arbitrary text. Whatever address or prefix parses must print as
// text that parses back to the same value.
import MeshConfig

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)
    if let config = try? TunnelConfigParser.parse(text) {
        _ = config.warnings.count
        for peer in config.peers { _ = peer.allowedIPs.count }
    }
    // The value parsers on each line (short lines only: they are single tokens in practice).
    for line in text.split(separator: "\n", omittingEmptySubsequences: true).prefix(8) where line.count < 128 {
        if let a = try? IPAddress(line) {
            guard let back = try? IPAddress(a.description), back == a else { fatalError("address round-trip: \(line)") }
        }
        if let p = try? IPPrefix(line) {
            guard let back = try? IPPrefix(p.description), back == p else { fatalError("prefix round-trip: \(line)") }
            _ = p.masked
        }
        _ = try? Endpoint(line)
    }
    return 0
}
