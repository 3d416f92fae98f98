import MeshTLS
import MeshWire

extension SimpleHTTPClient.Target {
    /// Where an `http[s]://host[:port][/path]` service (the coordinator, as nodes and standalone
    /// relays reach it) is, and its path prefix without trailing slashes. Parsed by MeshWire's
    /// `RelayURL`, the one URL parser for coordinator and relay addresses. `https://` uses `tls`
    /// (the process's roots), or the system's roots when none is given.
    public static func service(url: String, tls: TLSClient? = nil) throws -> (target: Self, basePath: String) {
        guard let parsed = RelayURL(url, defaultPath: "") else {
            throw SimpleHTTPClient.ClientError("\(url) is not http://host[:port][/path] or https://host[:port][/path]")
        }
        var path = parsed.path
        while path.hasSuffix("/") { path.removeLast() }
        guard parsed.secure else { return (.tcp(host: parsed.host, port: parsed.port), path) }
        return (.tls(host: parsed.host, port: parsed.port, client: try tls ?? TLSClient()), path)
    }
}
