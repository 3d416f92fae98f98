#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import MeshEngine
import MeshLocalAPI
import MeshStatus
import Testing

/// Requests reach the services the node supplies; what a mode lacks, and what the caller may
/// not do, is refused with one sentence.
@Suite struct LocalAPIRoutingTests {
    static func socketPath() -> String {
        NSTemporaryDirectory() + "mesh-route-\(UUID().uuidString.prefix(8))/meshd.sock"
    }

    /// One request line, the whole answer (the daemon closes the connection after it).
    static func ask(_ path: String, _ line: String) throws -> String {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { b in for (i, c) in path.utf8.enumerated() { b[i] = c } }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(rc == 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = Array((line + "\n").utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var out = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    func withAPI(_ services: LocalAPIServices?, _ body: (String) throws -> Void) throws {
        let path = Self.socketPath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let api = LocalAPI(socketPath: path, logger: Logger(label: "test"))
        try api.start { Self.status }
        if let services { api.serve(services) }
        defer { api.stop() }
        try body(path)
    }

    static let status = NodeStatus(interface: "mesh0", publicKey: "k", listenPort: 41641, droppedDatagrams: 0,
                                   drops: [:], peers: [])

    @Test func versionAndMetricsWorkInEveryMode() throws {
        try withAPI(nil) { (path: String) throws in
            #expect(try Self.ask(path, "version") == "{\"version\":\"\(MeshVersion.string)\"}\n")
            #expect(try Self.ask(path, "metrics").contains("\"name\":\"mesh_peers\""))
            #expect(try Self.ask(path, "ping b 1000").contains("is not available in this mode"))
            #expect(try Self.ask(path, "frob") .contains("unknown command 'frob'"))
        }
    }

    /// "\r\n" is one Character in Swift: a request ending in CRLF once waited for a "\n" that a
    /// Character search never finds, until the size limit or the client's timeout.
    @Test func aRequestEndingInCRLFIsAnswered() throws {
        try withAPI(nil) { (path: String) throws in
            #expect(try Self.ask(path, "version\r") == "{\"version\":\"\(MeshVersion.string)\"}\n")
        }
    }

    @Test func answersMayComeFromAnotherThread() throws {
        var services = LocalAPIServices()
        services.ping = { peer, timeout, done in
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(20)) {
                done(.success(PingReply(peer: peer, key: "k", ip: nil, answered: true, path: .relay, relay: "fra",
                                        latencyMs: 20, timeoutMs: 1000)))
            }
        }
        try withAPI(services) { (path: String) throws in
            let reply = try JSONDecoder().decode(PingReply.self, from: Data(try Self.ask(path, "ping b 1000").utf8))
            #expect(reply.line == "pong from b via relay fra in 20.0 ms")
        }
    }

    @Test func changesAreForRootOnly() throws {
        var services = LocalAPIServices()
        services.down = { .success(StateChangeReply(state: .down, changed: true)) }
        try withAPI(services) { (path: String) throws in
            // The test runs as root in CI (the lab needs it), or as the daemon's own user:
            // either way the kernel's credentials let it through.
            #expect(try Self.ask(path, "down") == "{\"changed\":true,\"state\":\"down\"}\n")
        }
    }

    @Test func theSocketIsRootOnlyWithoutTheGroup() throws {
        try withAPI(nil) { (path: String) throws in
            var info = stat()
            try #require(stat(path, &info) == 0)
            let mode = info.st_mode & 0o777
            if getgrnam(LocalAPIAccess.readerGroup) == nil { #expect(mode == 0o600) } else { #expect(mode == 0o660) }
        }
    }
}
