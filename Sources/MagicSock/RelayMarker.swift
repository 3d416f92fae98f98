import MeshCrypto
import WireGuard

/// The address a peer's WireGuard session sees when its packets come through the relay.
/// It lies in the discard-only prefix 100::/64 (RFC 6666), so it can never be a real peer
/// address, and it is unique per peer so replies find their way back to the right node.
public enum RelayMarker {
    public static func address(for nodeKey: PublicKey) -> UDPAddress {
        var ip = SIMD16<UInt8>()
        ip[0] = 0x01
        let k = nodeKey.bytes
        for i in 0..<8 { ip[8 + i] = k[i] }
        return UDPAddress(ip: ip, port: 1)
    }

    public static func isMarker(_ a: UDPAddress) -> Bool {
        a.ip[0] == 0x01 && a.ip[1] == 0 && a.ip[2] == 0 && a.ip[3] == 0 && a.ip[4] == 0
            && a.ip[5] == 0 && a.ip[6] == 0 && a.ip[7] == 0 && a.port == 1
    }
}
