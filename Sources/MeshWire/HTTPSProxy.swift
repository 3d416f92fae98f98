import Foundation
import MeshCrypto

/// An HTTP proxy that TLS connections leave through, tunnelled with `CONNECT` (RFC 9110
/// section 9.3.6), as `HTTPS_PROXY` names it in networks where nothing else gets out. Only
/// TLS connections (an `https://` coordinator and `https://` relays) use it, as curl and Go
/// do for `HTTPS_PROXY`. Credentials in the URL become a
/// `Proxy-Authorization: Basic` header and appear nowhere else: not in `description`, logs or
/// errors.
public struct HTTPSProxy: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let port: Int
    /// Host suffixes reached without the proxy (`NO_PROXY`): "example.com" and ".example.com"
    /// both match example.com and its subdomains; "*" matches everything.
    public let bypass: [String]
    let authorization: String?

    /// curl's default when the URL names no port.
    public static let defaultPort = 1080

    /// `url`: `[http://][user:password@]host[:port][/]`. An `https://` proxy (TLS to the proxy
    /// itself) is not supported and refused by name.
    public init(url: String, noProxy: String? = nil) throws {
        var rest = Substring(url.trimmingCharacters(in: .whitespaces))
        if let scheme = rest.range(of: "://") {
            let name = rest[..<scheme.lowerBound].lowercased()
            guard name == "http" else { throw HTTPSProxyError("proxy URL scheme \(name):// is not supported (only http://)") }
            rest = rest[scheme.upperBound...]
        }
        if let slash = rest.firstIndex(of: "/") {
            guard rest[slash...].allSatisfy({ $0 == "/" }) else { throw HTTPSProxyError("a proxy URL has no path") }
            rest = rest[..<slash]
        }
        var auth: String?
        if let at = rest.lastIndex(of: "@") {
            let user = rest[..<at].removingPercentEncoding ?? String(rest[..<at])
            auth = "Basic " + Base64.encode(Array(user.utf8))
            rest = rest[rest.index(after: at)...]
        }
        // The one URL parser (RelayURL) takes the authority; without a port, curl's default.
        let hasPort = rest.hasPrefix("[") ? rest.contains("]:") : rest.contains(":")
        guard let parsed = RelayURL("http://" + rest + (hasPort ? "" : ":\(Self.defaultPort)"), defaultPath: "/") else {
            throw HTTPSProxyError("proxy address is not host[:port]")
        }
        host = parsed.host
        port = parsed.port
        authorization = auth
        bypass = (noProxy ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            .filter { !$0.isEmpty }
    }

    /// The proxy `HTTPS_PROXY` (or `https_proxy`) names, with `NO_PROXY` (or `no_proxy`);
    /// nil when neither is set or set empty.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> HTTPSProxy? {
        guard let url = environment["HTTPS_PROXY"] ?? environment["https_proxy"], !url.isEmpty else { return nil }
        return try HTTPSProxy(url: url, noProxy: environment["NO_PROXY"] ?? environment["no_proxy"])
    }

    /// Whether a connection to `host` goes through the proxy.
    public func applies(to host: String) -> Bool {
        let h = host.lowercased()
        for entry in bypass {
            if entry == "*" { return false }
            let suffix = entry.hasPrefix(".") ? String(entry.dropFirst()) : entry
            if h == suffix || h.hasSuffix("." + suffix) { return false }
        }
        return true
    }

    /// The CONNECT request for `host:port` (an IPv6 literal in brackets).
    public func connectRequest(host: String, port: Int) -> [UInt8] {
        let authority = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        var text = "CONNECT \(authority) HTTP/1.1\r\nHost: \(authority)\r\n"
        if let authorization { text += "Proxy-Authorization: \(authorization)\r\n" }
        text += "\r\n"
        return Array(text.utf8)
    }

    public var description: String { host.contains(":") ? "http://[\(host)]:\(port)" : "http://\(host):\(port)" }
}

public struct HTTPSProxyError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
