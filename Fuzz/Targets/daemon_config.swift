// meshd's config file (`meshd up --config`, Sources/MeshConfig/DaemonConfigFile.swift): parse
// arbitrary text; a file that parses must parse the same again from its own values, and every
// error must be one line (it is printed as meshd's one-sentence exit message).
import MeshConfig

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let c = try DaemonConfigFile.parse(text, file: "meshd.toml")
        if let p = c.port {
            let again = try? DaemonConfigFile.parse("port = \(p)", file: "again.toml")
            precondition(again?.port == p, "port \(p) did not read back")
        }
    } catch {
        precondition(!"\(error)".contains("\n"), "a config error spans lines")
    }
    for line in text.split(separator: "\n").prefix(8) where line.count < 256 {
        _ = try? TOMLValue.parse(String(line))
    }
    return 0
}
