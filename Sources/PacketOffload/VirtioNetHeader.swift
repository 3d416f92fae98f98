/// The header the kernel puts before every packet on a TUN opened with `IFF_VNET_HDR`
/// (`struct virtio_net_hdr`, 10 bytes, host byte order). It is what lets the kernel hand over
/// one 64 KiB TCP "super-packet" instead of 45 MTU-sized ones, and take coalesced ones back:
/// the tunnel then pays the kernel's per-packet cost once per super-packet.
public struct VirtioNetHeader: Equatable, Sendable {
    public static let size = 10

    /// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the transport checksum is partial (pseudo-header only);
    /// the sum from `checksumStart` to the end still has to be folded into `checksumStart + checksumOffset`.
    public static let needsChecksum: UInt8 = 1
    /// `VIRTIO_NET_HDR_GSO_ECN`: the super-packet had ECN's CWR set (kept on the first segment only).
    public static let ecnBit: UInt8 = 0x80

    public enum GSOType: UInt8, Sendable {
        case none = 0
        case tcpV4 = 1
        case udp = 3      // UFO: IP fragmentation of one big UDP datagram; never offered to us (TUN_F_UFO off)
        case tcpV6 = 4
        case udpL4 = 5    // USO: one UDP datagram per segment
    }

    public var flags: UInt8
    /// The GSO type byte without the ECN bit.
    public var gsoType: UInt8
    public var headerLength: UInt16
    public var gsoSize: UInt16
    public var checksumStart: UInt16
    public var checksumOffset: UInt16

    public init(flags: UInt8 = 0, gsoType: UInt8 = 0, headerLength: UInt16 = 0, gsoSize: UInt16 = 0,
                checksumStart: UInt16 = 0, checksumOffset: UInt16 = 0) {
        self.flags = flags
        self.gsoType = gsoType
        self.headerLength = headerLength
        self.gsoSize = gsoSize
        self.checksumStart = checksumStart
        self.checksumOffset = checksumOffset
    }

    /// nil when fewer than 10 bytes are there.
    @inline(__always)
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.size else { return nil }
        flags = bytes[0]
        gsoType = bytes[1]
        headerLength = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        gsoSize = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
        checksumStart = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
        checksumOffset = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
    }

    @inline(__always)
    public func write(to bytes: UnsafeMutableRawPointer) {
        bytes.storeBytes(of: flags, toByteOffset: 0, as: UInt8.self)
        bytes.storeBytes(of: gsoType, toByteOffset: 1, as: UInt8.self)
        bytes.storeBytes(of: headerLength.littleEndian, toByteOffset: 2, as: UInt16.self)
        bytes.storeBytes(of: gsoSize.littleEndian, toByteOffset: 4, as: UInt16.self)
        bytes.storeBytes(of: checksumStart.littleEndian, toByteOffset: 6, as: UInt16.self)
        bytes.storeBytes(of: checksumOffset.littleEndian, toByteOffset: 8, as: UInt16.self)
    }

    /// The type without the ECN bit, nil for a type this node does not split.
    public var kind: GSOType? { GSOType(rawValue: gsoType & ~Self.ecnBit) }
}
