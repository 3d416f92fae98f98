#if canImport(Glibc)
import Glibc
#endif
import CMeshShim
import Synchronization
import WireGuard

/// The node's one UDP socket. Batched receive and send (recvmmsg/sendmmsg) amortise the
/// per-syscall cost, which dominates a userspace tunnel; slots are laid out so a later
/// UDP GSO path hands consecutive slots to the kernel as one super-datagram (an iovec each).
///
/// GRO is asked for once at open (`groEnabled`: the kernel then delivers runs of datagrams as one
/// buffer); GSO is used until the kernel refuses it once with EIO (a route through a device
/// that cannot checksum), and from then on not (`gsoEnabled`, `gsoRefusals`).
public final class UDPTransport: Sendable {
    public let fd: Int32
    public let port: UInt16
    public let groEnabled: Bool
    private let gso: Atomic<Bool>
    private let refusals = Atomic<Int>(0)

    public init(port: UInt16, bufferBytes: Int = 8 << 20, settings: OffloadSettings = OffloadSettings()) throws {
        var bound: UInt16 = 0
        let rc = mesh_udp_open(port, &bound, Int32(bufferBytes))
        guard rc >= 0 else { throw StartupFailure.udpBind(port: port, code: rc) }
        fd = rc
        self.port = bound
        groEnabled = settings.udpGRO && mesh_udp_set_gro(rc, 1) == 0
        gso = Atomic(settings.udpGSO)
    }

    public var gsoEnabled: Bool { gso.load(ordering: .relaxed) }
    /// How many sends the kernel refused GSO for (at most a few: the first turns it off).
    public var gsoRefusals: Int { refusals.load(ordering: .relaxed) }

    /// The kernel refused a GSO send: every later send goes one datagram per message.
    /// True for the call that turned it off (so the refusal is logged once).
    @discardableResult
    public func noteGSORefused() -> Bool {
        refusals.add(1, ordering: .relaxed)
        return gso.exchange(false, ordering: .relaxed)
    }

    deinit { close(fd) }

    /// Bounds each blocking receive, so the thread that receives can notice a stop.
    public func setReceiveTimeout(milliseconds: Int) {
        var tv = timeval(tv_sec: milliseconds / 1000, tv_usec: Int((milliseconds % 1000) * 1000))
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    @inline(__always)
    public func send(_ datagram: UnsafeRawBufferPointer, to address: UDPAddress) {
        var dst = mesh_addr(address)
        _ = mesh_send_one(fd, datagram.baseAddress!.assumingMemoryBound(to: UInt8.self), datagram.count, &dst)
    }
}

extension mesh_addr {
    @inline(__always)
    init(_ a: UDPAddress) {
        self.init()
        withUnsafeMutableBytes(of: &self.ip) { $0.storeBytes(of: a.ip, as: SIMD16<UInt8>.self) }
        self.port = a.port
    }

    @inline(__always)
    var udpAddress: UDPAddress {
        var copy = ip
        let v = withUnsafeBytes(of: &copy) { $0.loadUnaligned(as: SIMD16<UInt8>.self) }
        return UDPAddress(ip: v, port: port)
    }
}
