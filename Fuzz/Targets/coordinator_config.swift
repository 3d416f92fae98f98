// The coordinator's config file (a TOML subset, parsed by hand in
// Coordinator/Sources/CoordinatorServer/Config.swift): apply + validate on arbitrary text, and
// the listen / STUN port parsers on each line.
@testable import CoordinatorServer
import MeshConfig

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    var config = CoordinatorConfig()
    if (try? config.apply(configText: text, file: "fuzz.toml")) != nil {
        _ = try? config.validate()
    }
    for line in text.split(separator: "\n").prefix(8) where line.count < 256 {
        _ = try? CoordinatorConfig.parseListen(String(line))
        _ = try? CoordinatorConfig.parsePorts(String(line))
        _ = try? TOMLValue.parse(String(line))
    }
    return 0
}
