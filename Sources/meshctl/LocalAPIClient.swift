import Foundation
import MeshLocalAPI
import MeshStatus

/// Sends one request line to meshd's unix socket and reads the whole answer (meshd closes the
/// connection after it). Plain blocking POSIX calls: a short-lived command needs no event
/// loop, and the errno of `connect` is what tells "not running" from "not allowed".
struct LocalAPIClient {
    let socketPath: String

    /// `wait`: how long the answer may take (a ping's timeout plus a margin).
    func request(_ request: LocalAPIRequest, wait: Duration = .seconds(10)) throws -> Data {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CommandFailure(SocketFailure.sentence(errno: errno, path: socketPath, operation: "open")) }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(socketPath.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else {
            throw CommandFailure(SocketFailure.sentence(errno: ENAMETOOLONG, path: socketPath))
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (i, b) in pathBytes.enumerated() { buffer[i] = b }
        }
        var timeout = timeval(tv_sec: Int(wait.components.seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else { throw CommandFailure(SocketFailure.sentence(errno: errno, path: socketPath)) }
        let line = Array((request.line + "\n").utf8)
        var sent = 0
        while sent < line.count {
            let n = line[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw CommandFailure(SocketFailure.sentence(errno: errno, path: socketPath, operation: "write to")) }
            sent += n
        }
        var reply = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            guard n > 0 else {
                if errno == EINTR { continue }
                throw CommandFailure(SocketFailure.sentence(errno: errno, path: socketPath, operation: "read from"))
            }
            reply.append(contentsOf: buffer[0..<n])
            // An answer is one JSON document; a status of many thousand peers is a few MB.
            guard reply.count <= 64 << 20 else { throw CommandFailure("meshd's answer is larger than 64 MiB") }
        }
        return reply
    }

    /// Sends the request and decodes the answer as `T`; meshd's `{"error": ...}` becomes the
    /// command's one-sentence failure.
    func call<T: Decodable>(_ request: LocalAPIRequest, as: T.Type, wait: Duration = .seconds(10)) throws -> T {
        let reply = try self.request(request, wait: wait)
        let decoder = JSONDecoder()
        if let failure = try? decoder.decode(LocalAPIError.self, from: reply) {
            throw CommandFailure(failure.error)
        }
        guard !reply.isEmpty else { throw CommandFailure("meshd closed the connection without an answer") }
        do { return try decoder.decode(T.self, from: reply) } catch {
            throw CommandFailure("meshd sent an answer this meshctl cannot read; are both the same version (meshctl \(MeshVersion.string))?")
        }
    }
}
