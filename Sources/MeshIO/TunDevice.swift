#if canImport(Glibc)
import Glibc
#endif
import CMeshShim

/// The TUN interface carrying the overlay's IP packets between the kernel and meshd.
public final class TunDevice: Sendable {
    public let fd: Int32
    public let name: String
    public let ifIndex: Int32

    public init(name: String) throws {
        var buf = [CChar](repeating: 0, count: 32)
        for (i, c) in name.utf8.prefix(15).enumerated() { buf[i] = CChar(bitPattern: c) }
        let rc = mesh_tun_open(&buf, buf.count)
        guard rc >= 0 else { throw StartupFailure.tunOpen(name: name, code: rc) }
        fd = rc
        let nameBytes = buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        self.name = String(decoding: nameBytes, as: UTF8.self)
        let idx = mesh_if_index(self.name)
        guard idx >= 0 else { close(fd); throw SystemError("looking up interface \(self.name)", code: idx) }
        ifIndex = idx
    }

    /// Wraps a descriptor that already carries one IP packet per read and write, standing in
    /// for a TUN interface: tests drive a whole data plane in-process through one end of a
    /// datagram socket pair, without root or a network namespace. The interface calls
    /// (MTU, address, route) do not apply to it. Takes ownership of `packetDescriptor`.
    public init(packetDescriptor: Int32, name: String) {
        fd = packetDescriptor
        self.name = name
        ifIndex = 0
    }

    deinit { close(fd) }

    public func setMTU(_ mtu: Int) throws {
        let rc = mesh_if_set_mtu(name, Int32(mtu))
        guard rc == 0 else { throw SystemError("setting MTU \(mtu) on \(name)", code: rc) }
    }

    public func setUp() throws {
        let rc = mesh_if_set_up(name)
        guard rc == 0 else { throw SystemError("bringing \(name) up", code: rc) }
    }

    /// `address` is 4 or 16 bytes.
    public func addAddress(_ address: [UInt8], prefixLength: Int) throws {
        let rc = mesh_if_add_address(ifIndex, address.count == 4 ? 4 : 6, address, Int32(prefixLength))
        guard rc == 0 else { throw SystemError("adding address to \(name)", code: rc) }
    }

    /// Routes a prefix into the tunnel; an existing identical route is fine.
    public func addRoute(_ destination: [UInt8], prefixLength: Int) throws {
        let rc = mesh_if_add_route(ifIndex, destination.count == 4 ? 4 : 6, destination, Int32(prefixLength))
        guard rc == 0 || rc == -EEXIST else { throw SystemError("adding route via \(name)", code: rc) }
    }

    public func setNonBlocking(_ on: Bool) { _ = mesh_set_nonblocking(fd, on ? 1 : 0) }

    @inline(__always)
    public func read(into buffer: UnsafeMutableRawPointer, capacity: Int) -> Int {
        Glibc.read(fd, buffer, capacity)
    }

    @inline(__always)
    @discardableResult
    public func write(_ buffer: UnsafeRawPointer, length: Int) -> Int {
        Glibc.write(fd, buffer, length)
    }
}
