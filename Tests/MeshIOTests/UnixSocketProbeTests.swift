#if canImport(Glibc)
import Glibc
#endif
import MeshIO
import Testing

@Suite struct UnixSocketProbeTests {
    func temporaryPath(_ name: String) -> String {
        var template = Array("/tmp/mesh-probe-XXXXXX".utf8CString)
        let dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        return dir + "/" + name
    }

    /// A unix stream socket bound at `path`; listening or not.
    func boundSocket(_ path: String, listening: Bool) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        precondition(rc == 0)
        if listening { precondition(listen(fd, 4) == 0) }
        return fd
    }

    @Test func findings() {
        let path = temporaryPath("meshd.sock")
        #expect(UnixSocketProbe.probe(path) == .absent)

        let live = boundSocket(path, listening: true)
        #expect(UnixSocketProbe.probe(path) == .answering)
        // The server dies without removing its socket file: nobody answers there any more.
        close(live)
        #expect(UnixSocketProbe.probe(path) == .stale)
        unlink(path)

        let file = open(path, O_CREAT | O_WRONLY, 0o600)
        close(file)
        #expect(UnixSocketProbe.probe(path) == .notASocket)
        unlink(path)

    }
}
