/// Tells apart the protocols that share the node's one UDP socket by their first bytes
/// (DESIGN.md section 3), so each datagram goes to the right state machine.
public enum DatagramKind: Equatable, Sendable {
    case wireGuard
    case stun
    case disco
    case unknown

    static let discoMagic: [UInt8] = Array("MESHDS".utf8)

    @inline(__always)
    public static func classify(_ d: UnsafeRawBufferPointer) -> DatagramKind {
        if d.count >= 4, (1...4).contains(d[0]), d[1] == 0, d[2] == 0, d[3] == 0 { return .wireGuard }
        if d.count >= 20, d[0] & 0xC0 == 0, d[4] == 0x21, d[5] == 0x12, d[6] == 0xA4, d[7] == 0x42 { return .stun }
        if d.count >= 6, d[0] == 0x4D, d[1] == 0x45, d[2] == 0x53, d[3] == 0x48, d[4] == 0x44, d[5] == 0x53 { return .disco }
        return .unknown
    }
}
