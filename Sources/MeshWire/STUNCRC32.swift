/// CRC-32 as in ISO 3309 / ITU-T V.42 / zlib (reflected polynomial 0xEDB88320), which STUN's
/// FINGERPRINT attribute uses (RFC 8489 section 14.7), XORed there with 0x5354554E.
public enum STUNCRC32 {
    private static let table: [UInt32] = (0..<256).map { (n: UInt32) -> UInt32 in
        var c = n
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}
