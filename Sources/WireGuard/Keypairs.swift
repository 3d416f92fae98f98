/// The sessions of one peer and the rules that move them between slots (whitepaper section
/// 5.4.6; wireguard-go's device/keypair.go and BeginSymmetricSession in noise-protocol.go).
/// Kept in one place because every slot change frees receiver indices, and an index freed too
/// early drops packets still in flight while one never freed leaks. Each operation therefore
/// returns the local indices it let go of, for the caller to remove from the device's index
/// table once it has dropped the peer's lock. A value owned by a `Peer`, touched only under its lock.
package struct Keypairs {
    /// The session we send with.
    package private(set) var current: Keypair?
    /// The session `current` replaced, kept so that packets the other side sealed before it
    /// saw the rotation still decrypt.
    package private(set) var previous: Keypair?
    /// A session we created as responder. We may not send with it until the initiator proves it
    /// holds the keys, which it does by sending the first data packet under it.
    package private(set) var next: Keypair?
    /// Our initiation waiting for a response; its index becomes the session's when one arrives.
    package private(set) var pending: PendingInitiation?

    package init() {}

    package var hasSession: Bool { current != nil }

    /// The session an incoming transport message names. The pending initiation is not a
    /// session: no transport data can be sealed for it yet.
    package func session(forReceiverIndex index: UInt32) -> Keypair? {
        if let c = current, c.localIndex == index { return c }
        if let n = next, n.localIndex == index { return n }
        if let p = previous, p.localIndex == index { return p }
        return nil
    }

    /// The initiation a response names, if it is the one we are waiting for.
    package func pendingInitiation(forReceiverIndex index: UInt32) -> PendingInitiation? {
        guard let pending, pending.localIndex == index else { return nil }
        return pending
    }

    /// We sent a new initiation: only the newest may complete, so an older one is forgotten.
    package mutating func startInitiation(_ initiation: PendingInitiation) -> LocalIndices {
        var released = LocalIndices()
        released.append(pending?.localIndex)
        pending = initiation
        return released
    }

    /// We gave up on the pending initiation (REKEY_ATTEMPT_TIME passed without a response).
    package mutating func abandonInitiation() -> LocalIndices {
        var released = LocalIndices()
        released.append(pending?.localIndex)
        pending = nil
        return released
    }

    /// As initiator we consumed the response to our pending initiation: the responder has
    /// proven it holds the keys, so `session` (which carries the pending index) is used at once.
    /// The old current stays as previous for packets in flight; the old previous and any
    /// unconfirmed next are dropped. (wireguard-go keeps an unconfirmed next as previous
    /// instead and drops current; this is the rule the device has always followed.)
    package mutating func initiatorConfirmed(_ session: Keypair) -> LocalIndices {
        assert(pending?.localIndex == session.localIndex, "the session must complete the pending initiation")
        var released = LocalIndices()
        released.append(previous?.localIndex)
        released.append(next?.localIndex)
        next = nil
        previous = current
        current = session
        pending = nil
        return released
    }

    /// As responder we answered an initiation: `session` waits in next until the initiator
    /// confirms it, and current keeps carrying our data meanwhile. Previous is dropped so the
    /// confirmation can move current there; an older unconfirmed next is superseded.
    package mutating func responderCreated(_ session: Keypair) -> LocalIndices {
        var released = LocalIndices()
        released.append(previous?.localIndex)
        released.append(next?.localIndex)
        previous = nil
        next = session
        return released
    }

    /// An authenticated transport message arrived under `session`. If that is the responder's
    /// next session, the initiator has confirmed it: it becomes current, the old current
    /// becomes previous, and the old previous is released. Nil if `session` was not next, in
    /// which case nothing changed. Runs on every received packet, so it stays allocation-free.
    package mutating func confirmNext(receivedWith session: Keypair) -> LocalIndices? {
        guard let next, next === session else { return nil }
        var released = LocalIndices()
        released.append(previous?.localIndex)
        previous = current
        current = next
        self.next = nil
        return released
    }

    /// Nothing was heard for three REJECT_AFTER_TIME periods: every key goes, so nothing
    /// recorded earlier can be decrypted with what is left in memory.
    package mutating func clearAll() -> LocalIndices {
        let released = indicesInUse
        current = nil
        previous = nil
        next = nil
        pending = nil
        return released
    }

    /// Every local index the slots hold, so a removed peer's entries can all leave the index table.
    package var indicesInUse: LocalIndices {
        var indices = LocalIndices()
        indices.append(current?.localIndex)
        indices.append(previous?.localIndex)
        indices.append(next?.localIndex)
        indices.append(pending?.localIndex)
        return indices
    }
}

/// Up to four local indices (one per `Keypairs` slot), stored inline so that handing them
/// back from the receive path costs no allocation.
package struct LocalIndices: Sequence {
    package static let capacity = 4
    private var storage: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    package private(set) var count = 0

    package init() {}

    package var isEmpty: Bool { count == 0 }

    /// Takes an optional so that callers can pass a slot's index whether or not the slot is filled.
    package mutating func append(_ index: UInt32?) {
        guard let index else { return }
        precondition(count < Self.capacity, "more indices than Keypairs has slots")
        switch count {
        case 0: storage.0 = index
        case 1: storage.1 = index
        case 2: storage.2 = index
        default: storage.3 = index
        }
        count += 1
    }

    package func makeIterator() -> Iterator { Iterator(indices: self) }

    package struct Iterator: IteratorProtocol {
        let indices: LocalIndices
        var position = 0

        package mutating func next() -> UInt32? {
            guard position < indices.count else { return nil }
            defer { position += 1 }
            switch position {
            case 0: return indices.storage.0
            case 1: return indices.storage.1
            case 2: return indices.storage.2
            default: return indices.storage.3
            }
        }
    }
}
