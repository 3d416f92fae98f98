// What an HTTPS proxy answers to CONNECT (from the network) and the proxy URL (from the
// environment): `HTTPConnectAnswer` must classify every prefix without trapping, report a
// header length inside the input, and a status line that is short and printable;
// `HTTPSProxy` must accept only in-range ports and never show credentials in `description`.
// The first byte chooses the mode.
import MeshWire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let bytes = UnsafeBufferPointer(start: data + 1, count: size - 1)
    if data[0] & 1 == 0 {
        switch HTTPConnectAnswer.parse(bytes) {
        case .established(let length):
            guard length >= 4, length <= bytes.count, Array(bytes[(length - 4)..<length]) == [13, 10, 13, 10] else {
                fatalError("established with a header length outside the input: \(length) of \(bytes.count)")
            }
        case .refused(let line):
            guard line.utf8.count <= 200, line.utf8.allSatisfy({ $0 >= 32 && $0 < 127 }) else {
                fatalError("refusal status line not short and printable: \(line.debugDescription)")
            }
        case .incomplete:
            guard bytes.count <= HTTPConnectAnswer.maxHeadLength + 4 else { fatalError("incomplete past the head limit") }
        case .malformed: break
        }
    } else {
        let text = String(decoding: bytes, as: UTF8.self)
        if let proxy = try? HTTPSProxy(url: text, noProxy: text) {
            guard (1...65535).contains(proxy.port), !proxy.host.isEmpty else { fatalError("proxy out of range: \(proxy)") }
            // The description is built from host and port alone, and the host never keeps userinfo.
            let expected = proxy.host.contains(":") ? "http://[\(proxy.host)]:\(proxy.port)" : "http://\(proxy.host):\(proxy.port)"
            guard proxy.description == expected, !proxy.host.contains("@") else {
                fatalError("description shows more than host and port: \(proxy.description.debugDescription)")
            }
            _ = proxy.applies(to: text)
            _ = proxy.connectRequest(host: proxy.host, port: proxy.port)
        }
    }
    return 0
}
