#if canImport(Glibc)
import Glibc
#endif
import CMeshShim
import WireGuard

/// The node's one UDP socket. Batched receive and send (recvmmsg/sendmmsg) amortise the
/// per-syscall cost, which dominates a userspace tunnel; slots are laid out so a later
/// UDP GSO/GRO path can hand the same buffers to the kernel as one super-datagram.
public final class UDPTransport: Sendable {
    public let fd: Int32
    public let port: UInt16

    public init(port: UInt16, bufferBytes: Int = 8 << 20) throws {
        var bound: UInt16 = 0
        let rc = mesh_udp_open(port, &bound, Int32(bufferBytes))
        guard rc >= 0 else { throw StartupFailure.udpBind(port: port, code: rc) }
        fd = rc
        self.port = bound
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
