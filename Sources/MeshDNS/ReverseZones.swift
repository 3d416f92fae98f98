import MeshBase

/// The in-addr.arpa / ip6.arpa zones that together cover an overlay prefix, for
/// systemd-resolved's routing domains (`resolvectl domain mesh0 ~mesh ~64.100.in-addr.arpa
/// ...`): reverse zones split only at label boundaries (an octet, a nibble), so a /10 is the
/// 64 zones of its /16s and a /48 one nibble zone; even a /0 needs at most 256 (`maxZones`).
public enum ReverseZones {
    public static let maxZones = 256

    /// The same for a prefix as the registration writes it ("100.64.0.0/10"); none if it is not one.
    public static func covering(prefix text: String) -> [String] {
        (try? IPPrefix(text)).map(covering) ?? []
    }

    public static func covering(_ prefix: IPPrefix) -> [String] {
        let p = prefix.masked
        let bytes = p.address.networkBytes
        let v4 = bytes.count == 4
        let step = v4 ? 8 : 4
        // A zone needs at least one label below the arpa name.
        let boundary = max(step, (p.length + step - 1) / step * step)
        let extraBits = boundary - p.length
        guard extraBits >= 0, extraBits <= 8, 1 << extraBits <= maxZones else { return [] }
        var zones: [String] = []
        for n in 0..<(1 << extraBits) {
            // The prefix's address with `n` in the bits between its length and the boundary.
            var b = bytes
            for i in 0..<extraBits {
                let bit = boundary - 1 - i
                if n >> i & 1 == 1 { b[bit / 8] |= UInt8(0x80) >> UInt8(bit % 8) }
            }
            if v4 {
                zones.append((b[0..<(boundary / 8)].reversed().map { String($0) } + ["in-addr", "arpa"]).joined(separator: "."))
            } else {
                let hex = Array("0123456789abcdef")
                var nibbles: [String] = []
                for i in 0..<(boundary / 4) {
                    let byte = b[i / 2]
                    nibbles.append(String(hex[Int(i % 2 == 0 ? byte >> 4 : byte & 0x0F)]))
                }
                zones.append((nibbles.reversed() + ["ip6", "arpa"]).joined(separator: "."))
            }
        }
        return zones
    }
}
