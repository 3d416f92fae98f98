/// WireGuard's KDF_n (WireGuard paper, section 5.4): HKDF (RFC 5869) over HMAC-BLAKE2s with the
/// chaining key as the extract salt and at most three 32-byte outputs; the handshake needs
/// byte-for-byte the same keys as every other WireGuard implementation.
public enum HKDF {
    /// Returns `outputs` (1...3) 32-byte keys: τ0 = HMAC(C, input), τ1 = HMAC(τ0, 0x1),
    /// τi = HMAC(τ0, τ(i-1) ‖ i). Earlier outputs do not depend on how many are asked for.
    public static func derive(chainingKey: [UInt8], input: [UInt8], outputs: Int) -> [[UInt8]] {
        precondition((1...3).contains(outputs), "WireGuard's KDF yields 1, 2 or 3 outputs")
        let pseudorandomKey = HMACBLAKE2s.authenticate(key: chainingKey, message: input)
        var results: [[UInt8]] = []
        results.reserveCapacity(outputs)
        var previous: [UInt8] = []
        for i in 1...outputs {
            previous = HMACBLAKE2s.authenticate(key: pseudorandomKey, message: previous + [UInt8(i)])
            results.append(previous)
        }
        return results
    }
}
