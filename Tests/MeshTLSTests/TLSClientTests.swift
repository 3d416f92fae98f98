import Foundation
import MeshHTTP
import MeshTLS
import NIOCore
import NIOPosix
import NIOSSL
import Testing

/// A private CA and server certificates made by openssl (an independent implementation), and a
/// TLS server that answers one HTTP request: what a reverse proxy in front of the coordinator does.
struct TestCA {
    let dir: String
    var caFile: String { dir + "/ca.pem" }

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("mesh-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Self.run("""
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem \
                -days 2 -subj /CN=mesh-test-ca
            """, in: dir)
    }

    /// A server certificate signed by the CA for `altNames` ("DNS:localhost,IP:127.0.0.1").
    func issue(_ name: String, altNames: String) throws -> (cert: String, key: String) {
        try "subjectAltName=\(altNames)\n".write(toFile: "\(dir)/\(name).ext", atomically: true, encoding: .utf8)
        try Self.run("""
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout \(name).key -out \(name).csr \
                -subj /CN=\(name) && \
            openssl x509 -req -in \(name).csr -CA ca.pem -CAkey ca.key -CAcreateserial -out \(name).pem -days 2 \
                -extfile \(name).ext
            """, in: dir)
        return ("\(dir)/\(name).pem", "\(dir)/\(name).key")
    }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }

    static func run(_ script: String, in dir: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script]
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw TLSClientError("openssl failed (\(p.terminationStatus)): \(script)") }
    }
}

/// Answers every connection's first bytes with "HTTP/1.1 200" and the body "ok", then closes.
final class OneAnswerHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var out = context.channel.allocator.buffer(capacity: 80)
        out.writeString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in channel.close(promise: nil) }
    }
}

func startTLSServer(cert: String, key: String) async throws -> any Channel {
    let configuration = TLSConfiguration.makeServerConfiguration(
        certificateChain: try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) },
        privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
    let context = try NIOSSLContext(configuration: configuration)
    return try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .childChannelInitializer { ch in
            ch.eventLoop.makeCompletedFuture {
                try ch.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                try ch.pipeline.syncOperations.addHandler(OneAnswerHandler())
            }
        }
        .bind(host: "127.0.0.1", port: 0).get()
}

@Suite(.serialized) struct TLSClientTests {
    @Test func httpsThroughAPrivateCAByNameAndByAddress() async throws {
        let ca = try TestCA()
        defer { ca.remove() }
        let (cert, key) = try ca.issue("coord", altNames: "DNS:localhost,IP:127.0.0.1")
        let server = try await startTLSServer(cert: cert, key: key)
        let port = try #require(server.localAddress?.port)
        let tls = try TLSClient(caFile: ca.caFile)
        for host in ["localhost", "127.0.0.1"] {
            let r = try await SimpleHTTPClient.request(.tls(host: host, port: port, client: tls), method: "GET", path: "/",
                                                       timeout: .seconds(10))
            #expect(r.status == 200 && r.text == "ok", "\(host)")
        }
        try await server.close()
    }

    @Test func aServerTheRootsDoNotVouchForIsRefused() async throws {
        let ca = try TestCA()
        defer { ca.remove() }
        let (cert, key) = try ca.issue("coord", altNames: "DNS:localhost,IP:127.0.0.1")
        let (otherCert, otherKey) = try ca.issue("other", altNames: "DNS:other.example.test")
        let server = try await startTLSServer(cert: cert, key: key)
        let wrongName = try await startTLSServer(cert: otherCert, key: otherKey)
        // The system's roots do not know the private CA.
        let system = try TLSClient()
        let port = try #require(server.localAddress?.port)
        await #expect(throws: (any Error).self) {
            _ = try await SimpleHTTPClient.request(.tls(host: "localhost", port: port, client: system), method: "GET", path: "/",
                                                   timeout: .seconds(10))
        }
        // A certificate from the right CA for another name.
        let tls = try TLSClient(caFile: ca.caFile)
        let wrongPort = try #require(wrongName.localAddress?.port)
        do {
            _ = try await SimpleHTTPClient.request(.tls(host: "localhost", port: wrongPort, client: tls), method: "GET", path: "/",
                                                   timeout: .seconds(10))
            Issue.record("a certificate for other.example.test was accepted for localhost")
        } catch {
            // The reason reaches the caller, not just "closed without answering".
            #expect("\(error)".lowercased().contains("certificate") || "\(error)".lowercased().contains("hostname"), "\(error)")
        }
        try await server.close()
        try await wrongName.close()
    }

    @Test func anUnreadableCAFileIsAClearError() {
        #expect(throws: TLSClientError.self) { try TLSClient(caFile: "/nonexistent/ca.pem") }
    }
}
