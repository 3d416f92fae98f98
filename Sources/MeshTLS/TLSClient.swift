import Foundation
import MeshBase
import NIOCore
import NIOSSL

/// How a node checks the TLS servers it talks to: the coordinator (or the reverse proxy in front
/// of it) and the relays. TLS is what proxies and firewalls on the way need; the node's trust in
/// the coordinator still rests on the coordinator key from the join token, checked inside every
/// sealed message and relay handshake, so a proxy that terminates TLS learns nothing it could
/// use. One context is made per process and shared by every connection.
public struct TLSClient: Sendable {
    public let context: NIOSSLContext
    /// The private CA file trusted besides the system's roots, if any (for status and logs).
    public let caFile: String?

    /// The system's trust store, plus the PEM certificates in `caFile` (a team's private CA).
    public init(caFile: String? = nil) throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let caFile {
            guard FileManager.default.isReadableFile(atPath: caFile) else {
                throw TLSClientError("CA file \(caFile) cannot be read")
            }
            configuration.additionalTrustRoots = [.file(caFile)]
        }
        do { context = try NIOSSLContext(configuration: configuration) } catch {
            throw TLSClientError("cannot set up TLS\(caFile.map { " with CA file \($0)" } ?? ""): \(error)")
        }
        self.caFile = caFile
    }

    /// The handler that speaks TLS to `host`: SNI and name check for a DNS name; for an IP
    /// literal no SNI (TLS forbids it) and the certificate must name that address.
    public func handler(for host: String) throws -> NIOSSLClientHandler {
        let isLiteral = (try? IPAddress(host)) != nil
        return try NIOSSLClientHandler(context: context, serverHostname: isLiteral ? nil : host)
    }
}

public struct TLSClientError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
