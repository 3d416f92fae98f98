/// The proxy's answer to `CONNECT`, read from the first bytes of the connection (pure; the
/// tunnel handler feeds it). Only the status line matters: 2xx opens the tunnel, anything
/// else is a refusal (407 when the proxy wants credentials). Headers are skipped up to the
/// blank line, and the bytes after it already belong to the tunnel.
public enum HTTPConnectAnswer: Equatable, Sendable {
    case incomplete
    /// The tunnel is open; the answer took `headerLength` bytes (blank line included).
    case established(headerLength: Int)
    /// The proxy refused, with its status line (printable ASCII, at most 200 characters).
    case refused(statusLine: String)
    /// Not an HTTP answer, or a head longer than `maxHeadLength`.
    case malformed

    public static let maxHeadLength = 16 * 1024

    public static func parse(_ bytes: some Collection<UInt8>) -> HTTPConnectAnswer {
        let b = Array(bytes.prefix(maxHeadLength + 4))
        var end: Int?
        if b.count >= 4 {
            for i in 0...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 {
                end = i
                break
            }
        }
        guard let end else { return b.count > maxHeadLength ? .malformed : (looksLikeHTTP(b) ? .incomplete : .malformed) }
        guard end <= maxHeadLength else { return .malformed }
        let lineEnd = b.firstIndex(of: 13) ?? end
        let line = b[..<lineEnd]
        // "HTTP/1.x SSS reason"
        guard line.count >= 12, line.starts(with: Array("HTTP/1.".utf8)), line[line.startIndex + 8] == 32,
              let status = Int(String(decoding: line[(line.startIndex + 9)..<(line.startIndex + 12)], as: UTF8.self)),
              (100...599).contains(status) else { return .malformed }
        if (200...299).contains(status) { return .established(headerLength: end + 4) }
        let printable = line.prefix(200).map { $0 >= 32 && $0 < 127 ? $0 : UInt8(ascii: "?") }
        return .refused(statusLine: String(decoding: printable, as: UTF8.self))
    }

    /// Whether what arrived so far can still become "HTTP/1.x ...".
    static func looksLikeHTTP(_ b: [UInt8]) -> Bool {
        let prefix = Array("HTTP/1.".utf8)
        return b.count <= prefix.count ? prefix.starts(with: b) : b.starts(with: prefix)
    }
}
