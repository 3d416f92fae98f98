/// Where a relay (or the coordinator) is reached, from a URL the coordinator hands out:
/// "http://host[:port][/path]" or "https://...". Parsed by hand (no Foundation URL) so the
/// rules are exactly these: a bracketed IPv6 literal, a DNS name or an IPv4 literal, an
/// optional port 1...65535, the default path "/relay".
public struct RelayURL: Equatable, Sendable, Hashable, CustomStringConvertible {
    public var secure: Bool
    /// Without brackets for IPv6 literals.
    public var host: String
    public var port: Int
    public var path: String

    public init?(_ s: String, defaultPath: String = "/relay") {
        let rest: Substring
        if s.hasPrefix("http://") { secure = false; rest = s.dropFirst(7) }
        else if s.hasPrefix("https://") { secure = true; rest = s.dropFirst(8) }
        else { return nil }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        let tail = rest.dropFirst(authority.count)
        let pathPart = tail.prefix { $0 != "?" && $0 != "#" }
        path = pathPart.isEmpty || pathPart == "/" ? defaultPath : String(pathPart)
        guard !authority.contains("@") else { return nil }
        var portText: Substring? = nil
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                portText = after.dropFirst()
            }
            guard host.contains(":") else { return nil }
        } else {
            let parts = authority.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { return nil }
            host = String(parts[0])
            if parts.count == 2 { portText = parts[1] }
        }
        guard !host.isEmpty, host.utf8.count <= 253,
              host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":" || $0 == "_" }),
              host.unicodeScalars.allSatisfy(\.isASCII) else { return nil }
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let p = Int(portText), (1...65535).contains(p) else { return nil }
            port = p
        } else {
            port = secure ? 443 : 80
        }
    }

    /// "host:port" as a Host header or log text wants it (IPv6 in brackets).
    public var hostPort: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public var description: String { "\(secure ? "https" : "http")://\(hostPort)\(path)" }
}
