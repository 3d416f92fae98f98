#if canImport(Glibc)
import Glibc
#endif
import MeshLocalAPI
import Testing

@Suite struct SocketFailureTests {
    @Test func eachErrnoGetsItsHint() {
        let p = "/run/mesh/meshd.sock"
        #expect(SocketFailure.sentence(errno: ENOENT, path: p) == "meshd is not running: there is no socket at /run/mesh/meshd.sock (start meshd, or pass --socket)")
        #expect(SocketFailure.sentence(errno: ECONNREFUSED, path: p).hasPrefix("meshd is not running: nothing listens"))
        #expect(SocketFailure.sentence(errno: EACCES, path: p) == "permission denied on /run/mesh/meshd.sock: run meshctl as root or as a member of the group 'mesh'")
        #expect(SocketFailure.sentence(errno: EAGAIN, path: p) == "meshd did not answer on /run/mesh/meshd.sock in time")
        #expect(SocketFailure.sentence(errno: EIO, path: p).hasPrefix("cannot connect meshd's socket"))
    }
}
