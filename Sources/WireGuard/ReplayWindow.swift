/// Sliding-window replay protection as in RFC 6479: a ring of 64-bit blocks, so that moving
/// the window forward clears whole words instead of shifting a bitmap. 128 blocks give a
/// window of 8192 − 64 = 8128 packets, which survives the reordering of multi-queue paths.
public struct ReplayWindow: Sendable {
    static let blockBits = 64
    static let blockCount = 128
    public static let windowSize = UInt64(blockBits * (blockCount - 1))

    private var blocks: [UInt64] = Array(repeating: 0, count: blockCount)
    private(set) var greatest: UInt64 = 0
    private var started = false

    public init() {}

    /// True if `counter` could still be accepted; a cheap check before spending a decryption.
    public func mayAccept(_ counter: UInt64) -> Bool {
        if !started { return true }
        if counter > greatest { return true }
        if greatest - counter >= Self.windowSize { return false }
        let block = Int((counter / 64) % UInt64(Self.blockCount))
        return blocks[block] & (1 << (counter % 64)) == 0
    }

    /// Marks `counter` as seen after the packet authenticated; false if it was a replay or too old.
    public mutating func accept(_ counter: UInt64) -> Bool {
        let blockIndex = counter / 64
        if !started || counter > greatest {
            let current = started ? greatest / 64 : 0
            var diff = started ? blockIndex - current : UInt64(Self.blockCount)
            if !started {
                for i in 0..<Self.blockCount { blocks[i] = 0 }
                diff = 0
            }
            if diff > UInt64(Self.blockCount) { diff = UInt64(Self.blockCount) }
            var i: UInt64 = 1
            while i <= diff {
                blocks[Int((current + i) % UInt64(Self.blockCount))] = 0
                i += 1
            }
            greatest = counter
            started = true
        } else if greatest - counter >= Self.windowSize {
            return false
        }
        let slot = Int(blockIndex % UInt64(Self.blockCount))
        let bit: UInt64 = 1 << (counter % 64)
        if blocks[slot] & bit != 0 { return false }
        blocks[slot] |= bit
        return true
    }
}
