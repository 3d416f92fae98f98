import CSodium

/// Standard padded base64, as WireGuard writes keys; libsodium's codec avoids Foundation here.
public enum Base64 {
    public static func encode(_ bytes: [UInt8]) -> String {
        let len = sodium_base64_encoded_len(bytes.count, sodium_base64_VARIANT_ORIGINAL)
        var out = [CChar](repeating: 0, count: len)
        _ = bytes.withUnsafeBufferPointer { b in
            sodium_bin2base64(&out, len, b.baseAddress, b.count, sodium_base64_VARIANT_ORIGINAL)
        }
        return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        var out = [UInt8](repeating: 0, count: chars.count * 3 / 4 + 3)
        var outLen = 0
        var end: UnsafePointer<CChar>? = nil
        let rc = chars.withUnsafeBufferPointer { c in
            c.baseAddress!.withMemoryRebound(to: CChar.self, capacity: c.count) { cp in
                sodium_base642bin(&out, out.count, cp, c.count, nil, &outLen, &end,
                                  sodium_base64_VARIANT_ORIGINAL)
            }
        }
        guard rc == 0 else { return nil }
        // Reject trailing garbage that libsodium stops at.
        if let end = end {
            let consumed = chars.withUnsafeBufferPointer { c in
                c.baseAddress!.withMemoryRebound(to: CChar.self, capacity: c.count) { end - $0 }
            }
            guard consumed == chars.count else { return nil }
        }
        return Array(out.prefix(outLen))
    }
}
