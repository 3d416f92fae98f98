/// Where an IP packet's TCP or UDP header starts and ends: what segmentation and coalescing
/// both need before they touch a byte. Parsed from the packet itself, never from the virtio
/// header's lengths, so a wrong `headerLength` cannot make either read past the packet.
public struct TransportHeaders: Equatable, Sendable {
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17

    public let version: Int
    public let ipHeaderLength: Int
    public let protocolNumber: UInt8
    public let transportHeaderLength: Int

    public var length: Int { ipHeaderLength + transportHeaderLength }

    /// What an unused merge slot holds; never the result of a parse.
    static let placeholder = TransportHeaders(version: 0, ipHeaderLength: 0, protocolNumber: 0, transportHeaderLength: 0)

    private init(version: Int, ipHeaderLength: Int, protocolNumber: UInt8, transportHeaderLength: Int) {
        self.version = version
        self.ipHeaderLength = ipHeaderLength
        self.protocolNumber = protocolNumber
        self.transportHeaderLength = transportHeaderLength
    }

    /// nil unless `packet` (`length` bytes) is an unfragmented IPv4 packet or an IPv6 packet
    /// without extension headers, carrying TCP or UDP whose header fits.
    @inline(__always)
    public init?(packet: UnsafeRawPointer, length: Int) {
        guard length >= 20 else { return nil }
        let first = packet.load(as: UInt8.self)
        switch first >> 4 {
        case 4:
            let ihl = Int(first & 0x0f) * 4
            guard ihl >= 20, ihl <= length else { return nil }
            // More-fragments or a fragment offset: not a whole transport segment.
            let fragment = UInt16(bigEndian: packet.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
            guard fragment & 0x3fff == 0 else { return nil }
            version = 4
            ipHeaderLength = ihl
            protocolNumber = packet.load(fromByteOffset: 9, as: UInt8.self)
        case 6:
            guard length >= 40 else { return nil }
            version = 6
            ipHeaderLength = 40
            protocolNumber = packet.load(fromByteOffset: 6, as: UInt8.self)
        default:
            return nil
        }
        switch protocolNumber {
        case Self.tcp:
            guard ipHeaderLength + 20 <= length else { return nil }
            let offset = Int(packet.load(fromByteOffset: ipHeaderLength + 12, as: UInt8.self) >> 4) * 4
            guard offset >= 20, ipHeaderLength + offset <= length else { return nil }
            transportHeaderLength = offset
        case Self.udp:
            guard ipHeaderLength + 8 <= length else { return nil }
            transportHeaderLength = 8
        default:
            return nil
        }
    }

    /// The length the IP header claims for the whole packet.
    @inline(__always)
    public func declaredLength(_ packet: UnsafeRawPointer) -> Int {
        let field = Int(UInt16(bigEndian: packet.loadUnaligned(fromByteOffset: version == 4 ? 2 : 4, as: UInt16.self)))
        return version == 4 ? field : field + 40
    }

    /// Sets the IP header's length field for a packet of `total` bytes (and, for IPv4, its checksum).
    @inline(__always)
    public func setTotalLength(_ packet: UnsafeMutableRawPointer, _ total: Int) {
        if version == 4 {
            packet.storeBytes(of: UInt16(truncatingIfNeeded: total).bigEndian, toByteOffset: 2, as: UInt16.self)
            InternetChecksum.setIPv4HeaderChecksum(packet, headerLength: ipHeaderLength)
        } else {
            packet.storeBytes(of: UInt16(truncatingIfNeeded: total - 40).bigEndian, toByteOffset: 4, as: UInt16.self)
        }
    }
}
