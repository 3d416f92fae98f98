import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A plain TCP connection from a chosen loopback source address (127.0.0.2 stands for
/// "another host" against a server on 127.0.0.1), for tests that hold connections open or
/// send partial requests.
struct RawSocket {
    let fd: Int32

    /// Connects from `source` to 127.0.0.1:`port`; nil when the connect fails.
    static func connect(from source: String = "127.0.0.2", port: Int) -> RawSocket? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var src = sockaddr_in()
        src.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, source, &src.sin_addr)
        var dst = sockaddr_in()
        dst.sin_family = sa_family_t(AF_INET)
        dst.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr)
        let ok = withUnsafePointer(to: &src) { s in
            s.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        } && withUnsafePointer(to: &dst) { d in
            d.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard ok else { close(fd); return nil }
        return RawSocket(fd: fd)
    }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Waits up to `timeout` for data or end of stream; returns the bytes read, nil on end of
    /// stream (or reset), [] when nothing came.
    func read(timeout: Duration) -> [UInt8]? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ms = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        guard poll(&p, 1, ms) > 0 else { return [] }
        var buf = [UInt8](repeating: 0, count: 65536)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        if n > 0 { return Array(buf.prefix(n)) }
        if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return [] }
        return nil
    }

    /// True when the server has closed this connection (reads to end of stream within `timeout`).
    func isClosedByServer(within timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let left = deadline - ContinuousClock.now
            guard let got = read(timeout: left) else { return true }
            if got.isEmpty { return false }
        }
        return false
    }

    func closeSocket() { close(fd) }
}
