/// TSO and USO done in the node: splits a super-packet the kernel handed over through the TUN
/// (one TCP or UDP packet of up to 64 KiB with a virtio header saying how to cut it) into the
/// MTU-sized packets the kernel would have sent, each with its own IP length, IPv4 ID and
/// header checksum, TCP sequence number and flags, and a full TCP or UDP checksum: what the
/// peer receives is indistinguishable from the kernel's own segmentation.
///
/// One segment per `next(into:capacity:)` call, written where the caller wants it (straight
/// into a datagram slot), so a super-packet never needs more than one slot of scratch space.
public struct SuperPacketSplitter {
    public enum Refusal: Error, Equatable, Sendable {
        /// Headers that do not parse, or do not agree with the GSO type.
        case malformed
        /// A GSO type this node does not split (UFO, or unknown).
        case unsupportedType
        /// A segment (headers plus `gsoSize`) larger than the slot it must go into.
        case segmentTooLarge
    }

    private let packet: UnsafeRawPointer
    private let headers: TransportHeaders
    private let payloadLength: Int
    private let segmentPayload: Int
    public let segmentCount: Int
    private var index = 0

    /// `packet` is the IP packet after the virtio header (`length` bytes); `capacity` the most
    /// a segment may take. Only for `header.kind` `.tcpV4`, `.tcpV6` and `.udpL4`.
    public init(header: VirtioNetHeader, packet: UnsafeRawPointer, length: Int, capacity: Int) throws(Refusal) {
        guard let kind = header.kind else { throw .unsupportedType }
        guard let headers = TransportHeaders(packet: packet, length: length) else { throw .malformed }
        switch kind {
        case .tcpV4: guard headers.version == 4, headers.protocolNumber == TransportHeaders.tcp else { throw .malformed }
        case .tcpV6: guard headers.version == 6, headers.protocolNumber == TransportHeaders.tcp else { throw .malformed }
        case .udpL4: guard headers.protocolNumber == TransportHeaders.udp else { throw .malformed }
        case .none, .udp: throw .unsupportedType
        }
        let gso = Int(header.gsoSize)
        guard gso > 0 else { throw .malformed }
        guard headers.length + gso <= capacity else { throw .segmentTooLarge }
        self.packet = packet
        self.headers = headers
        payloadLength = length - headers.length
        segmentPayload = gso
        segmentCount = payloadLength == 0 ? 1 : (payloadLength + gso - 1) / gso
    }

    /// Writes the next segment to `out` and returns its length; nil after the last.
    public mutating func next(into out: UnsafeMutableRawPointer) -> Int? {
        guard index < segmentCount else { return nil }
        let i = index
        index += 1
        let start = i * segmentPayload
        let chunk = min(segmentPayload, payloadLength - start)
        let h = headers
        out.copyMemory(from: packet, byteCount: h.length)
        (out + h.length).copyMemory(from: packet + h.length + start, byteCount: chunk)
        let total = h.length + chunk
        if h.version == 4 {
            // Each segment its own IPv4 ID, counting up from the super-packet's, as the kernel's TSO does.
            let id = UInt16(bigEndian: packet.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
            out.storeBytes(of: (id &+ UInt16(truncatingIfNeeded: i)).bigEndian, toByteOffset: 4, as: UInt16.self)
        }
        h.setTotalLength(out, total)
        let l4 = out + h.ipHeaderLength
        let l4Length = total - h.ipHeaderLength
        if h.protocolNumber == TransportHeaders.tcp {
            let seq = UInt32(bigEndian: l4.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            l4.storeBytes(of: (seq &+ UInt32(truncatingIfNeeded: start)).bigEndian, toByteOffset: 4, as: UInt32.self)
            var flags = l4.load(fromByteOffset: 13, as: UInt8.self)
            if i != segmentCount - 1 { flags &= ~(0x01 | 0x08) }   // FIN and PSH only on the last
            if i != 0 { flags &= ~0x80 }                            // CWR only on the first
            l4.storeBytes(of: flags, toByteOffset: 13, as: UInt8.self)
            l4.storeBytes(of: 0, toByteOffset: 16, as: UInt16.self)
            let sum = InternetChecksum.sum(l4, count: l4Length,
                                           initial: InternetChecksum.pseudoHeaderSum(ip: out, version: h.version, protocolNumber: 6, transportLength: l4Length))
            l4.storeBytes(of: ~InternetChecksum.fold(sum), toByteOffset: 16, as: UInt16.self)
        } else {
            l4.storeBytes(of: UInt16(truncatingIfNeeded: l4Length).bigEndian, toByteOffset: 4, as: UInt16.self)
            l4.storeBytes(of: 0, toByteOffset: 6, as: UInt16.self)
            let sum = InternetChecksum.sum(l4, count: l4Length,
                                           initial: InternetChecksum.pseudoHeaderSum(ip: out, version: h.version, protocolNumber: 17, transportLength: l4Length))
            let folded = ~InternetChecksum.fold(sum)
            l4.storeBytes(of: folded == 0 ? 0xffff : folded, toByteOffset: 6, as: UInt16.self)  // RFC 768: 0 means none
        }
        return total
    }

    /// Finishes the partial checksum of a single packet the kernel left for the device
    /// (`needsChecksum`): sums from `checksumStart` to the end and stores the result at
    /// `checksumStart + checksumOffset`. False when those offsets do not fit the packet.
    public static func completeChecksum(header: VirtioNetHeader, packet: UnsafeMutableRawPointer, length: Int) -> Bool {
        let start = Int(header.checksumStart), field = start + Int(header.checksumOffset)
        guard start < length, field + 2 <= length else { return false }
        let folded = ~InternetChecksum.fold(InternetChecksum.sum(packet + start, count: length - start))
        // A UDP checksum that computes to zero is sent as all ones (RFC 768); for TCP the two are the same value.
        packet.storeBytes(of: folded == 0 ? 0xffff : folded, toByteOffset: field, as: UInt16.self)
        return true
    }
}
