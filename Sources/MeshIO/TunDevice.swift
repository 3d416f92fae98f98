#if canImport(Glibc)
import Glibc
#endif
import CMeshShim
import PacketOffload

/// The TUN interface carrying the overlay's IP packets between the kernel and meshd.
///
/// Opened with the virtio-net header where the kernel allows it (`offloads`): then every read
/// starts with a `VirtioNetHeader` and may be a TCP or UDP super-packet of up to 64 KiB, and
/// every write must carry one (the `write...` methods below put it there).
public final class TunDevice: Sendable {
    public let fd: Int32
    public let name: String
    public let ifIndex: Int32
    public let offloads: TunOffloads

    public init(name: String, settings: OffloadSettings = OffloadSettings()) throws {
        var buf = [CChar](repeating: 0, count: 32)
        for (i, c) in name.utf8.prefix(15).enumerated() { buf[i] = CChar(bitPattern: c) }
        var wanted = UInt32(0)
        if settings.tunOffloads {
            wanted = UInt32(MESH_TUN_VNET_HDR | MESH_TUN_CSUM | MESH_TUN_TSO4 | MESH_TUN_TSO6)
            if settings.tunUDPSegmentation { wanted |= UInt32(MESH_TUN_USO4 | MESH_TUN_USO6) }
        }
        var granted = UInt32(0)
        let rc = mesh_tun_open_offload(&buf, buf.count, wanted, &granted)
        guard rc >= 0 else { throw StartupFailure.tunOpen(name: name, code: rc) }
        fd = rc
        offloads = TunOffloads(granted: granted)
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
    /// With `offloads` set, the descriptor's packets carry virtio headers as a TUN's would
    /// (tests then drive super-packets through the whole path).
    public init(packetDescriptor: Int32, name: String, offloads: TunOffloads = TunOffloads(granted: 0)) {
        fd = packetDescriptor
        self.name = name
        ifIndex = 0
        self.offloads = offloads
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

    /// One read: with the virtio header, header and packet.
    @inline(__always)
    public func read(into buffer: UnsafeMutableRawPointer, capacity: Int) -> Int {
        Glibc.read(fd, buffer, capacity)
    }

    /// Writes what is already a whole frame (with its virtio header when the TUN has one).
    @inline(__always)
    @discardableResult
    public func writeFrame(_ frame: UnsafeRawBufferPointer) -> Int {
        Glibc.write(fd, frame.baseAddress!, frame.count)
    }

    /// Writes one IP packet that has `VirtioNetHeader.size` writable bytes before it: an
    /// all-zero header goes there when the TUN has headers. One syscall, no copy.
    @inline(__always)
    @discardableResult
    public func writePacket(withHeadroom packet: UnsafeMutableRawPointer, length: Int) -> Int {
        guard offloads.virtioHeader else { return Glibc.write(fd, packet, length) }
        let start = packet - VirtioNetHeader.size
        VirtioNetHeader().write(to: start)
        return Glibc.write(fd, start, length + VirtioNetHeader.size)
    }

    /// Writes one IP packet from anywhere (answers this node makes up, off the fast path).
    @discardableResult
    public func writePacket(_ packet: UnsafeRawBufferPointer) -> Int {
        guard offloads.virtioHeader else { return Glibc.write(fd, packet.baseAddress!, packet.count) }
        var header = (UInt64(0), UInt16(0))
        return withUnsafeMutableBytes(of: &header) { h in
            var iov = [iovec(iov_base: h.baseAddress, iov_len: VirtioNetHeader.size),
                       iovec(iov_base: UnsafeMutableRawPointer(mutating: packet.baseAddress), iov_len: packet.count)]
            return Glibc.writev(fd, &iov, 2)
        }
    }
}

/// What the kernel granted when the TUN was opened (`mesh_tun_open_offload`).
public struct TunOffloads: Equatable, Sendable {
    public let granted: UInt32
    public init(granted: UInt32) { self.granted = granted }

    public var virtioHeader: Bool { granted & UInt32(MESH_TUN_VNET_HDR) != 0 }
    public var tcpSegmentation: Bool { granted & UInt32(MESH_TUN_TSO4 | MESH_TUN_TSO6) != 0 }
    public var udpSegmentation: Bool { granted & UInt32(MESH_TUN_USO4 | MESH_TUN_USO6) != 0 }

    /// For status: the kernel's names of what holds ("vnet_hdr", "csum", "tso4", ...).
    public var names: [String] {
        let all: [(Int32, String)] = [(MESH_TUN_VNET_HDR, "vnet_hdr"), (MESH_TUN_CSUM, "csum"), (MESH_TUN_TSO4, "tso4"),
                                      (MESH_TUN_TSO6, "tso6"), (MESH_TUN_USO4, "uso4"), (MESH_TUN_USO6, "uso6")]
        return all.filter { granted & UInt32($0.0) != 0 }.map(\.1)
    }
}
