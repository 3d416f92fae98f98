#if canImport(Glibc)
import Glibc
#endif
import MeshIO
import Testing

/// The advice follows the reason: a busy port is not a permissions problem, a missing driver
/// not a busy device.
@Suite struct StartupFailureTests {
    @Test func tunReasons() {
        #expect(StartupFailure.tunOpen(name: "mesh0", code: -EPERM).description.contains("needs root or CAP_NET_ADMIN"))
        #expect(StartupFailure.tunOpen(name: "mesh0", code: -EACCES).description.contains("needs root or CAP_NET_ADMIN"))
        #expect(StartupFailure.tunOpen(name: "mesh0", code: -ENOENT).description.contains("/dev/net/tun is missing"))
        #expect(StartupFailure.tunOpen(name: "mesh0", code: -EBUSY).description.contains("another process holds it"))
        #expect(StartupFailure.tunOpen(name: "eth9", code: -EINVAL).description
            == "cannot create TUN device eth9: an interface of that name exists and is not a TUN device; pass another --interface")
        // Positive codes (errno itself) read the same.
        #expect(StartupFailure.tunOpen(name: "mesh0", code: EBUSY) == StartupFailure.tunOpen(name: "mesh0", code: -EBUSY))
    }

    @Test func udpReasons() {
        #expect(StartupFailure.udpBind(port: 41641, code: -EADDRINUSE).description
            == "UDP port 41641 is in use (another meshd?); stop it or pass another --port (0: any free port)")
        #expect(StartupFailure.udpBind(port: 53, code: -EACCES).description.contains("below 1024"))
        #expect(StartupFailure.udpBind(port: 1, code: -ENOMEM).description.hasPrefix("cannot bind UDP port 1: "))
    }

    /// The real socket call: a second transport on a bound port fails with the busy sentence.
    @Test func aBusyPortIsReportedAsBusy() throws {
        let first = try UDPTransport(port: 0)
        #expect(first.port != 0)
        #expect(throws: StartupFailure.udpBind(port: first.port, code: -EADDRINUSE)) {
            _ = try UDPTransport(port: first.port)
        }
    }
}
