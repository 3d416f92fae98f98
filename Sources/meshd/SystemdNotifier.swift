import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The sd_notify protocol without libsystemd: one datagram per state change to the unix socket
/// systemd names in NOTIFY_SOCKET (a path, or an abstract name written with a leading '@').
/// With `Type=notify` the unit counts as started only at READY=1, that is once the tunnel is up
/// and following the netmap, so units ordered after meshd see a working network. Without
/// NOTIFY_SOCKET (not under systemd) every call does nothing. Failures are ignored: a service
/// manager that stopped listening is no reason to stop the tunnel.
final class SystemdNotifier: Sendable {
    private let socketPath: String?

    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let path = environment["NOTIFY_SOCKET"]
        // Only absolute paths and abstract names are meaningful; anything else is not systemd's.
        if let path, path.hasPrefix("/") || path.hasPrefix("@"), path.utf8.count < 108 { socketPath = path } else { socketPath = nil }
        // Children (none today) must not talk to systemd on meshd's behalf.
        unsetenv("NOTIFY_SOCKET")
    }

    var isActive: Bool { socketPath != nil }

    func ready(status: String) { send("READY=1\nSTATUS=\(Self.oneLine(status))") }
    func status(_ text: String) { send("STATUS=\(Self.oneLine(text))") }
    /// RELOADING=1 must carry the monotonic time (systemd >= 253, Type=notify-reload) and be
    /// followed by READY=1 when the reload is done.
    func reloading() { send("RELOADING=1\nMONOTONIC_USEC=\(Self.monotonicMicroseconds())") }
    func stopping() { send("STOPPING=1") }

    private func send(_ message: String) {
        guard let socketPath else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(socketPath.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }  // abstract namespace
        let length = withUnsafeMutableBytes(of: &addr.sun_path) { raw -> Int in
            let n = min(bytes.count, raw.count - 1)
            raw.copyBytes(from: bytes.prefix(n))
            return n
        }
        let addrLength = socklen_t(MemoryLayout<sa_family_t>.size + length)
        let payload = Array(message.utf8)
        _ = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                payload.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sa, addrLength) }
            }
        }
    }

    static func oneLine(_ s: String) -> String {
        String(s.map { $0.isNewline ? " " : $0 }.prefix(200))
    }

    static func monotonicMicroseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(max(ts.tv_sec, 0)) &* 1_000_000 &+ UInt64(max(ts.tv_nsec, 0) / 1000)
    }
}
