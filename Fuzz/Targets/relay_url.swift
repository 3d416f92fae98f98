// Relay and coordinator URLs and STUN hosts come from the coordinator's relay list (and from
// config files): `RelayURL` must accept only what it documents, and what it accepts must print
// back to a URL that parses to the same value; the STUN server list built from it stays bounded.
import MeshWire
import Netcheck

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let u = RelayURL(text) {
        guard (1...65535).contains(u.port), !u.host.isEmpty, u.path.hasPrefix("/") || u.path.isEmpty else {
            fatalError("RelayURL accepted an out-of-range value: \(u)")
        }
        guard RelayURL(u.description) == u else { fatalError("RelayURL does not round-trip: \(u)") }
    }
    let ports = (0..<min(size, 16)).map { Int(data[$0]) &* 257 &- 1000 }
    let relays = [RelayInfo(id: "a", url: text, stunPorts: ports), RelayInfo(id: "b", url: "http://x/relay", stunHost: text, stunPorts: ports)]
    let names = STUNServerName.servers(of: relays)
    guard names.count <= 2 * STUNServerName.maxPortsPerRelay, names.allSatisfy({ $0.port != 0 && !$0.host.isEmpty }) else {
        fatalError("STUN server list out of bounds: \(names)")
    }
    return 0
}
