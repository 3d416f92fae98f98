// Shared by every fuzz target: turns the fuzzer's bytes into a sequence of choices.
// Running out of input yields zeros and empty chunks, never a trap, so every byte string is a
// valid program for the structured targets.

struct FuzzReader {
    let bytes: [UInt8]
    var at = 0

    init(_ data: UnsafePointer<UInt8>, _ size: Int) {
        bytes = Array(UnsafeBufferPointer(start: data, count: size))
    }

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { at >= bytes.count }

    mutating func u8() -> UInt8 {
        guard at < bytes.count else { return 0 }
        defer { at += 1 }
        return bytes[at]
    }

    mutating func u16() -> UInt16 { UInt16(u8()) << 8 | UInt16(u8()) }

    mutating func take(_ n: Int) -> [UInt8] {
        let end = min(bytes.count, at + max(0, n))
        defer { at = end }
        return Array(bytes[min(at, end)..<end])
    }

    /// A chunk with a 2-byte big-endian length prefix (clamped to what is left).
    mutating func chunk() -> [UInt8] { take(Int(u16())) }

    mutating func rest() -> [UInt8] { take(bytes.count - at) }
}

/// Fixed 32-byte keys for the targets: deterministic, distinct, never all-zero.
func fixedKeyBytes(_ tag: UInt8) -> [UInt8] {
    (0..<32).map { UInt8(truncatingIfNeeded: Int($0) &* 37 &+ Int(tag) &* 101 &+ 1) }
}
