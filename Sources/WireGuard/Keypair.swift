/// The transport keys of one completed handshake, with the send counter and the receive
/// replay window that belong to them. Owned by a `Peer` and touched only under its lock.
final class Keypair {
    let sendKey: SIMD32<UInt8>
    let receiveKey: SIMD32<UInt8>
    let localIndex: UInt32
    let remoteIndex: UInt32
    let createdAt: MonotonicTime
    let isInitiator: Bool
    var sendCounter: UInt64 = 0
    var replay = ReplayWindow()

    init(keys: SessionKeys, localIndex: UInt32, remoteIndex: UInt32, createdAt: MonotonicTime, isInitiator: Bool) {
        sendKey = keys.send
        receiveKey = keys.receive
        self.localIndex = localIndex
        self.remoteIndex = remoteIndex
        self.createdAt = createdAt
        self.isInitiator = isInitiator
    }

    func isUsable(now: MonotonicTime, timers: ProtocolTimers) -> Bool {
        now - createdAt < timers.rejectAfterTime && sendCounter < Protocol.rejectAfterMessages
    }
}
