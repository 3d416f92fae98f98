/// Cryptokey routing: the table that maps an inner IP address to the peer allowed to use it,
/// by longest prefix. Host routes (/32, /128: the common case in a mesh) are a hash lookup;
/// shorter prefixes are scanned longest first. Lookups allocate nothing.
public struct AllowedIPs<Value>: Sendable where Value: AnyObject & Sendable {
    struct V4Entry { var network: UInt32; var mask: UInt32; var bits: Int; var value: Value }
    struct V6Entry { var network: SIMD16<UInt8>; var mask: SIMD16<UInt8>; var bits: Int; var value: Value }

    private var hostsV4: [UInt32: Value] = [:]
    private var hostsV6: [SIMD16<UInt8>: Value] = [:]
    private var prefixesV4: [V4Entry] = []
    private var prefixesV6: [V6Entry] = []
    /// The host routes each owner was given, so removing a peer costs its own routes, not a
    /// scan of every peer's (which made loading a 100,000-peer config quadratic). Entries may
    /// be stale after a later insert moved the host to another owner; removal checks.
    private var hostsByOwner: [ObjectIdentifier: (v4: [UInt32], v6: [SIMD16<UInt8>])] = [:]

    public init() {}

    /// Adds a route; `address` has 4 or 16 bytes. A later insert of the same prefix replaces the owner.
    public mutating func insert(address: [UInt8], prefixLength: Int, value: Value) {
        if address.count == 4 {
            precondition((0...32).contains(prefixLength))
            let a = address.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            let mask: UInt32 = prefixLength == 0 ? 0 : ~UInt32(0) << (32 - prefixLength)
            if prefixLength == 32 {
                hostsV4[a] = value
                hostsByOwner[ObjectIdentifier(value), default: ([], [])].v4.append(a)
                return
            }
            prefixesV4.removeAll { $0.bits == prefixLength && $0.network == a & mask }
            prefixesV4.append(V4Entry(network: a & mask, mask: mask, bits: prefixLength, value: value))
            prefixesV4.sort { $0.bits > $1.bits }
        } else {
            precondition(address.count == 16 && (0...128).contains(prefixLength))
            var a = SIMD16<UInt8>(), m = SIMD16<UInt8>()
            for i in 0..<16 {
                a[i] = address[i]
                let bitsHere = max(0, min(8, prefixLength - 8 * i))
                m[i] = bitsHere == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - bitsHere))
            }
            if prefixLength == 128 {
                hostsV6[a] = value
                hostsByOwner[ObjectIdentifier(value), default: ([], [])].v6.append(a)
                return
            }
            let net = a & m
            prefixesV6.removeAll { $0.bits == prefixLength && $0.network == net }
            prefixesV6.append(V6Entry(network: net, mask: m, bits: prefixLength, value: value))
            prefixesV6.sort { $0.bits > $1.bits }
        }
    }

    /// Removes every route that points at `value`.
    public mutating func removeAll(for value: Value) {
        if let owned = hostsByOwner.removeValue(forKey: ObjectIdentifier(value)) {
            for a in owned.v4 where hostsV4[a] === value { hostsV4[a] = nil }
            for a in owned.v6 where hostsV6[a] === value { hostsV6[a] = nil }
        }
        prefixesV4.removeAll { $0.value === value }
        prefixesV6.removeAll { $0.value === value }
    }

    @inline(__always)
    public func lookupV4(_ address: UInt32) -> Value? {
        if let v = hostsV4[address] { return v }
        for e in prefixesV4 where address & e.mask == e.network { return e.value }
        return nil
    }

    @inline(__always)
    public func lookupV6(_ address: SIMD16<UInt8>) -> Value? {
        if let v = hostsV6[address] { return v }
        for e in prefixesV6 where address & e.mask == e.network { return e.value }
        return nil
    }

    /// Finds the owner of an IP packet's source (`source: true`) or destination address.
    @inline(__always)
    public func lookup(packet: UnsafeRawBufferPointer, source: Bool) -> Value? {
        guard packet.count >= 1 else { return nil }
        switch packet[0] >> 4 {
        case 4:
            guard packet.count >= 20 else { return nil }
            let off = source ? 12 : 16
            return lookupV4(UInt32(bigEndian: packet.loadUnaligned(fromByteOffset: off, as: UInt32.self)))
        case 6:
            guard packet.count >= 40 else { return nil }
            let off = source ? 8 : 24
            return lookupV6(packet.loadUnaligned(fromByteOffset: off, as: SIMD16<UInt8>.self))
        default:
            return nil
        }
    }
}
