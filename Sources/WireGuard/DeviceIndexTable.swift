import MeshCrypto

/// Receiver indices: the 32-bit numbers we choose for each handshake and session, which the
/// other side writes into every message it sends us (wireguard-go's device/indextable.go).
/// They are drawn at random, as the whitepaper asks, so they say nothing about our other sessions.
extension Device {
    /// Draws indices until one is free; with 2^32 values and a few per peer this ends at once.
    func allocateIndex(for peer: Peer, entropy: inout some EntropySource) -> UInt32 {
        tableLock.withLock {
            while true {
                let idx = entropy.nextUInt32()
                if indexTable[idx] == nil {
                    indexTable[idx] = peer
                    return idx
                }
            }
        }
    }

    func releaseIndex(_ idx: UInt32) { tableLock.withLock { indexTable[idx] = nil } }

    /// What a `Keypairs` rotation let go of. Called after every received packet, so it takes
    /// the table lock only when there is something to free.
    func releaseIndices(_ indices: LocalIndices) {
        guard !indices.isEmpty else { return }
        tableLock.withLock { for idx in indices { indexTable[idx] = nil } }
    }

    /// The index is read from the network, so a miss is normal and only means the message is dropped.
    @inline(__always)
    func peer(forReceiverIndex idx: UInt32) -> Peer? { tableLock.withLock { indexTable[idx] } }
}
