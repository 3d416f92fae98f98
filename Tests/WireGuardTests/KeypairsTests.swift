import MeshCrypto
import Testing
import WireGuard

/// The slot rotation of `Keypairs` on its own, without handshakes: each session is named by its
/// local index, and every test checks both where the sessions end up and exactly which indices
/// an operation hands back for the index table.
@Suite struct KeypairsTests {
    static func session(_ localIndex: UInt32, initiator: Bool) -> Keypair {
        Keypair(keys: SessionKeys(send: SIMD32(repeating: 1), receive: SIMD32(repeating: 2)),
                localIndex: localIndex, remoteIndex: localIndex &+ 1000,
                createdAt: MonotonicTime(nanoseconds: 0), isInitiator: initiator)
    }

    static func initiation(_ localIndex: UInt32) -> PendingInitiation {
        var entropy = SeededEntropy(seed: UInt64(localIndex))
        return PendingInitiation(localIndex: localIndex, ephemeral: PrivateKey.generate(using: &entropy),
                                 chainingKey: [], hash: [])
    }

    /// Runs a whole initiator handshake: start an initiation with `localIndex`, then confirm it.
    static func initiate(_ k: inout Keypairs, _ localIndex: UInt32) -> (started: [UInt32], confirmed: [UInt32]) {
        let started = Array(k.startInitiation(initiation(localIndex)))
        let confirmed = Array(k.initiatorConfirmed(session(localIndex, initiator: true)))
        return (started, confirmed)
    }

    /// (current, previous, next, pending) local indices, nil for an empty slot.
    static func slots(_ k: Keypairs) -> [UInt32?] {
        [k.current?.localIndex, k.previous?.localIndex, k.next?.localIndex, k.pending?.localIndex]
    }

    @Test func startsEmpty() {
        var k = Keypairs()
        #expect(!k.hasSession)
        #expect(Self.slots(k) == [nil, nil, nil, nil])
        #expect(Array(k.indicesInUse) == [])
        #expect(k.session(forReceiverIndex: 0) == nil)
        #expect(k.pendingInitiation(forReceiverIndex: 0) == nil)
        #expect(Array(k.clearAll()) == [])
        #expect(Array(k.abandonInitiation()) == [])
    }

    @Test func newInitiationReleasesTheOlderPendingOne() {
        var k = Keypairs()
        #expect(Array(k.startInitiation(Self.initiation(10))) == [])
        #expect(Array(k.startInitiation(Self.initiation(11))) == [10])
        #expect(Self.slots(k) == [nil, nil, nil, 11])
        // A response to the superseded initiation no longer finds it.
        #expect(k.pendingInitiation(forReceiverIndex: 10) == nil)
        #expect(k.pendingInitiation(forReceiverIndex: 11)?.localIndex == 11)
        #expect(Array(k.indicesInUse) == [11])
    }

    @Test func initiatorConfirmedSessionBecomesCurrentAndKeepsOnePrevious() {
        var k = Keypairs()
        let first = Self.initiate(&k, 1)
        #expect(first.started == [] && first.confirmed == [])
        // The pending index carries over to the session, so it is not released.
        #expect(Self.slots(k) == [1, nil, nil, nil])
        #expect(k.hasSession)

        let second = Self.initiate(&k, 2)
        #expect(second.started == [] && second.confirmed == [])
        #expect(Self.slots(k) == [2, 1, nil, nil])

        let third = Self.initiate(&k, 3)
        #expect(third.started == [] && third.confirmed == [1])
        #expect(Self.slots(k) == [3, 2, nil, nil])
    }

    @Test func initiatorConfirmedDropsAnUnconfirmedNext() {
        var k = Keypairs()
        _ = Self.initiate(&k, 1)
        #expect(Array(k.responderCreated(Self.session(5, initiator: false))) == [])
        #expect(Self.slots(k) == [1, nil, 5, nil])
        // Our own handshake completes before the peer used the session we answered: next goes.
        let crossed = Self.initiate(&k, 6)
        #expect(crossed.started == [] && crossed.confirmed == [5])
        #expect(Self.slots(k) == [6, 1, nil, nil])
    }

    @Test func responderSessionWaitsInNextAndDropsPrevious() {
        var k = Keypairs()
        _ = Self.initiate(&k, 1)
        _ = Self.initiate(&k, 2)
        #expect(Self.slots(k) == [2, 1, nil, nil])
        #expect(Array(k.responderCreated(Self.session(7, initiator: false))) == [1])
        // Current keeps carrying our data until the initiator confirms the new session.
        #expect(Self.slots(k) == [2, nil, 7, nil])
        // A second initiation before that confirmation supersedes the unconfirmed session.
        #expect(Array(k.responderCreated(Self.session(8, initiator: false))) == [7])
        #expect(Self.slots(k) == [2, nil, 8, nil])
    }

    @Test func firstPacketUnderNextConfirmsIt() {
        var k = Keypairs()
        _ = Self.initiate(&k, 1)
        let answered = Self.session(5, initiator: false)
        _ = k.responderCreated(answered)
        let released = k.confirmNext(receivedWith: answered)
        // Answering the initiation already emptied previous, so the promotion frees nothing.
        #expect(released.map { Array($0) } == [])
        #expect(Self.slots(k) == [5, 1, nil, nil])
        // Once promoted, further packets under it change nothing.
        #expect(k.confirmNext(receivedWith: answered) == nil)
        #expect(Self.slots(k) == [5, 1, nil, nil])
    }

    @Test func packetsUnderCurrentOrPreviousConfirmNothing() throws {
        var k = Keypairs()
        _ = Self.initiate(&k, 1)
        _ = Self.initiate(&k, 2)
        let current = try #require(k.current), previous = try #require(k.previous)
        #expect(k.confirmNext(receivedWith: current) == nil)
        #expect(k.confirmNext(receivedWith: previous) == nil)
        // A session with next's index but not next itself is not a confirmation either.
        _ = k.responderCreated(Self.session(9, initiator: false))
        #expect(k.confirmNext(receivedWith: Self.session(9, initiator: false)) == nil)
        #expect(Self.slots(k) == [2, nil, 9, nil])
    }

    @Test func lookupFindsSessionsButNotThePendingInitiation() {
        var k = Keypairs()
        _ = Self.initiate(&k, 1)
        _ = Self.initiate(&k, 2)
        _ = k.startInitiation(Self.initiation(3))
        #expect(k.session(forReceiverIndex: 2) === k.current)
        #expect(k.session(forReceiverIndex: 1) === k.previous)
        #expect(k.session(forReceiverIndex: 3) == nil)
        #expect(k.session(forReceiverIndex: 4) == nil)
        #expect(k.pendingInitiation(forReceiverIndex: 3)?.localIndex == 3)
        #expect(k.pendingInitiation(forReceiverIndex: 2) == nil)

        _ = k.responderCreated(Self.session(7, initiator: false))
        #expect(k.session(forReceiverIndex: 7) === k.next)
        #expect(k.session(forReceiverIndex: 1) == nil)  // previous was dropped
    }

    @Test func abandoningReleasesOnlyThePendingInitiation() {
        var k = Keypairs()
        _ = Self.initiate(&k, 1)
        _ = Self.initiate(&k, 2)
        _ = k.startInitiation(Self.initiation(3))
        #expect(Array(k.abandonInitiation()) == [3])
        #expect(Self.slots(k) == [2, 1, nil, nil])
        #expect(Array(k.abandonInitiation()) == [])
    }

    @Test func clearAllReleasesEverySlot() {
        var k = Keypairs()
        _ = Self.initiate(&k, 1)
        _ = Self.initiate(&k, 2)
        _ = k.startInitiation(Self.initiation(3))
        #expect(Array(k.indicesInUse) == [2, 1, 3])
        #expect(Array(k.clearAll()) == [2, 1, 3])
        #expect(Self.slots(k) == [nil, nil, nil, nil])
        #expect(!k.hasSession)
        #expect(Array(k.indicesInUse) == [])

        _ = Self.initiate(&k, 4)
        _ = k.responderCreated(Self.session(5, initiator: false))
        _ = k.startInitiation(Self.initiation(6))
        #expect(Array(k.indicesInUse) == [4, 5, 6])
        #expect(Array(k.clearAll()) == [4, 5, 6])
        #expect(Self.slots(k) == [nil, nil, nil, nil])
    }

    @Test func indexZeroIsAnIndexLikeAnyOther() {
        // Indices are random: zero can be drawn and must not read as "no index".
        var k = Keypairs()
        _ = Self.initiate(&k, 0)
        #expect(Array(k.indicesInUse) == [0])
        #expect(k.session(forReceiverIndex: 0) === k.current)
        #expect(Array(k.clearAll()) == [0])
    }

    @Test func localIndicesKeepsOrderAndSkipsEmptySlots() {
        var indices = LocalIndices()
        #expect(indices.isEmpty)
        indices.append(nil)
        #expect(indices.isEmpty)
        for i: UInt32 in [40, 0, .max, 7] { indices.append(i) }
        indices.append(nil)
        #expect(indices.count == LocalIndices.capacity)
        #expect(Array(indices) == [40, 0, .max, 7])
    }
}
