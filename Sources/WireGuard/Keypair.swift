import MeshCrypto
/// The transport keys of one completed handshake, with the send counter and the receive
/// replay window that belong to them. Owned by a `Peer` and touched only under its lock.
package final class Keypair {
    /// The session's two keys, each with its key schedule set up once (`TransportCipher`).
    package let sender: TransportCipher
    package let receiver: TransportCipher
    package let localIndex: UInt32
    package let remoteIndex: UInt32
    package let createdAt: MonotonicTime
    package let isInitiator: Bool
    package var sendCounter: UInt64 = 0
    package var replay = ReplayWindow()

    package init(keys: SessionKeys, localIndex: UInt32, remoteIndex: UInt32, createdAt: MonotonicTime, isInitiator: Bool) {
        sender = TransportCipher(key: keys.send)
        receiver = TransportCipher(key: keys.receive)
        self.localIndex = localIndex
        self.remoteIndex = remoteIndex
        self.createdAt = createdAt
        self.isInitiator = isInitiator
    }

    package func isUsable(now: MonotonicTime, timers: ProtocolTimers) -> Bool {
        now - createdAt < timers.rejectAfterTime && sendCounter < Protocol.rejectAfterMessages
    }
}
