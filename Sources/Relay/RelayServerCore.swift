import MeshCrypto
import MeshWire
import MeshBase

/// Identifies one transport connection to the relay (a TCP stream after the HTTP upgrade).
public struct RelayConnectionID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "conn#\(rawValue)" }
}

public struct RelayServerConfig: Sendable {
    /// A KeepAlive frame goes to every authorized client at least this often.
    public var keepAliveInterval: Duration = .seconds(60)
    /// A connection that has not proved its node key within this time is closed.
    public var handshakeTimeout: Duration = .seconds(10)
    /// Allowed distance, in seconds, between a ClientInfo timestamp and the relay's clock.
    public var maxClockSkew: Int64 = RelayClientProof.defaultMaxClockSkew
    /// Per-client bound on queued packets (RecvPacket frames) waiting to be written.
    public var maxQueuedPackets = 1024
    /// Per-client bound on the bytes of queued packets.
    public var maxQueuedBytes = 1 << 20
    /// Per-client bound on queued control frames (Pong, PeerGone, KeepAlive, ServerInfo).
    public var maxQueuedControlFrames = 256
    /// At most one PeerGone(notHere) per (sender, destination) in this interval.
    public var notHereInterval: Duration = .seconds(5)
    /// A client that sent to a peer within this window is told when that peer disconnects.
    public var recentSenderWindow: Duration = .seconds(60)
    /// Bound on the remembered recent senders (and not-here destinations) per client.
    public var maxTrackedPeersPerClient = 4096
    /// How long a revoked key stays refused even if the authorization predicate still says yes
    /// (unless `reinstate` is called first).
    public var revocationHold: Duration = .seconds(600)
    /// Authorized clients are asked about again this often (a node that expires is dropped even
    /// if nobody calls `revoke`); nil: only at connect time.
    public var reauthorizeInterval: Duration? = .seconds(30)
    /// Largest packet forwarded (bytes after the 32-byte key).
    public var maxPacketBytes = RelayFrame.maxPayload - 32

    public init() {}
}

/// Why the relay closes a connection.
public enum RelayCloseReason: Equatable, Sendable, CustomStringConvertible {
    case handshakeTimeout
    case refused(RelayProofError)
    case protocolViolation(String)
    /// The same node key connected again; the new connection wins.
    case replaced
    case revoked
    case shutdown

    public var description: String {
        switch self {
        case .handshakeTimeout: return "no ClientInfo within the handshake timeout"
        case .refused(let e): return "refused: \(e)"
        case .protocolViolation(let s): return "protocol violation: \(s)"
        case .replaced: return "replaced by a newer connection of the same node key"
        case .revoked: return "node key revoked"
        case .shutdown: return "relay shutting down"
        }
    }
}

/// What the driver must do after a call into the core.
public enum RelayServerAction: Equatable, Sendable {
    /// Frames are queued for this connection: `dequeue` them while its socket is writable.
    case wake(RelayConnectionID)
    /// Close this connection. The core has already forgotten it.
    case close(RelayConnectionID, RelayCloseReason)
}

public struct RelayServerStats: Equatable, Sendable {
    public var connectionsAccepted = 0
    public var currentConnections = 0
    public var authorizedClients = 0
    public var handshakesCompleted = 0
    public var handshakesRefused = 0
    public var handshakeTimeouts = 0
    public var connectionsReplaced = 0
    public var revocations = 0
    public var protocolViolations = 0
    public var packetsForwarded = 0
    public var bytesForwarded = 0
    /// Packets dropped because the destination's queue was full.
    public var packetsDropped = 0
    public var bytesDropped = 0
    /// Packets for a destination that is not connected here.
    public var packetsToAbsentPeers = 0
    public var peerGoneNotHereSent = 0
    public var peerGoneDisconnectedSent = 0
    public var keepAlivesSent = 0
    public var pongsSent = 0
    public var controlFramesDropped = 0
    public init() {}
}

/// Counters of one connected client.
public struct RelayClientStats: Equatable, Sendable {
    public var connection: RelayConnectionID
    public var nodeKey: PublicKey?
    public var queuedPackets = 0
    public var queuedBytes = 0
    /// Packets for this client dropped because its queue was full.
    public var droppedPackets = 0
    public var droppedBytes = 0
    /// Packets this client sent that were forwarded.
    public var packetsFrom = 0
    /// Packets queued for this client.
    public var packetsTo = 0
}

/// The relay server's state machine for all connections: handshake and proof, authorization,
/// forwarding with bounded per-client queues, PeerGone notifications, replacement, revocation,
/// keepalives. Pure: it opens no socket and reads no clock; every call returns actions, and the
/// frames to write are pulled with `dequeue`.
///
/// Not thread-safe by itself: the driver confines it to one event loop or guards it with a lock.
public struct RelayServerCore: Sendable {
    public typealias Authorizer = @Sendable (PublicKey) -> Bool

    struct Connection: Sendable {
        let id: RelayConnectionID
        let acceptedAt: MonotonicTime
        var nodeKey: PublicKey?
        var shared: Box.SharedKey?
        var queue = FrameQueue()
        var queuedPackets = 0
        var queuedBytes = 0
        var queuedControl = 0
        var wakePending = false
        var lastKeepAlive: MonotonicTime
        var lastAuthorized: MonotonicTime
        /// Node keys that sent to this client, and when last.
        var recentSenders: [PublicKey: MonotonicTime] = [:]
        /// Destinations this client was told are not here, and when.
        var notHereSent: [PublicKey: MonotonicTime] = [:]
        var stats: RelayClientStats
    }

    public let serverKey: PublicKey
    private let privateKey: PrivateKey
    public let config: RelayServerConfig
    private let authorize: Authorizer

    private var connections: [RelayConnectionID: Connection] = [:]
    private var byKey: [PublicKey: RelayConnectionID] = [:]
    private var revoked: [PublicKey: MonotonicTime] = [:]
    /// (node key | nonce) of accepted ClientInfos → when it may be forgotten.
    private var seenProofs: [[UInt8]: MonotonicTime] = [:]
    private var nextID: UInt64 = 1
    public private(set) var stats = RelayServerStats()

    /// - Parameter authorize: is this node key a registered, unexpired node of the network?
    ///   Called when a client proves its key, and every `reauthorizeInterval` after that.
    public init(privateKey: PrivateKey, config: RelayServerConfig = RelayServerConfig(), authorize: @escaping Authorizer) {
        _ = Sodium.isReady
        self.privateKey = privateKey
        self.serverKey = privateKey.publicKey
        self.config = config
        self.authorize = authorize
    }

    // MARK: - Queries

    public var connectionCount: Int { connections.count }
    public func connection(for nodeKey: PublicKey) -> RelayConnectionID? { byKey[nodeKey] }
    public func nodeKey(of id: RelayConnectionID) -> PublicKey? { connections[id]?.nodeKey }
    public func isAuthorized(_ id: RelayConnectionID) -> Bool { connections[id]?.nodeKey != nil }
    public func isConnected(_ id: RelayConnectionID) -> Bool { connections[id] != nil }
    public var connectedNodeKeys: [PublicKey] { Array(byKey.keys) }
    public func clientStats(_ id: RelayConnectionID) -> RelayClientStats? { connections[id]?.stats }
    public func clientStats(for nodeKey: PublicKey) -> RelayClientStats? { byKey[nodeKey].flatMap { connections[$0]?.stats } }
    public func isRevoked(_ key: PublicKey, now: MonotonicTime) -> Bool { revoked[key].map { now < $0 } ?? false }

    // MARK: - Connection lifecycle

    /// A new transport connection: queues the ServerKey frame.
    public mutating func accept(now: MonotonicTime) -> (RelayConnectionID, [RelayServerAction]) {
        let id = RelayConnectionID(rawValue: nextID)
        nextID += 1
        connections[id] = Connection(id: id, acceptedAt: now, lastKeepAlive: now, lastAuthorized: now,
                                     stats: RelayClientStats(connection: id))
        stats.connectionsAccepted += 1
        stats.currentConnections = connections.count
        var actions: [RelayServerAction] = []
        enqueueControl(.serverKey(serverKey), to: id, actions: &actions)
        return (id, actions)
    }

    /// The transport connection closed (by the peer, an error, or after a `.close` action).
    public mutating func connectionClosed(_ id: RelayConnectionID, now: MonotonicTime) -> [RelayServerAction] {
        var actions: [RelayServerAction] = []
        remove(id, now: now, notifyPeers: true, actions: &actions)
        return actions
    }

    /// The connection sent bytes that are not a valid frame stream; the driver closes it.
    public mutating func malformedStream(_ id: RelayConnectionID, now: MonotonicTime) -> [RelayServerAction] {
        guard connections[id] != nil else { return [] }
        stats.protocolViolations += 1
        var actions: [RelayServerAction] = []
        remove(id, now: now, notifyPeers: true, actions: &actions)
        actions.append(.close(id, .protocolViolation("malformed frame stream")))
        return actions
    }

    /// A frame from a connection. `unixTime` is the relay's wall clock (seconds) for the proof
    /// check; `entropy` supplies the ServerInfo nonce.
    public mutating func receive<E: EntropySource>(_ frame: RelayFrame, from id: RelayConnectionID, now: MonotonicTime,
                                                   unixTime: Int64, entropy: inout E) -> [RelayServerAction] {
        guard let conn = connections[id] else { return [] }  // already closed, replaced or revoked
        var actions: [RelayServerAction] = []
        guard let source = conn.nodeKey else {
            guard case .clientInfo(let nodeKey, let nonce, let sealed) = frame else {
                violation(id, "expected ClientInfo first", now: now, actions: &actions)
                return actions
            }
            handshake(id, nodeKey: nodeKey, nonce: nonce, sealed: sealed, now: now, unixTime: unixTime,
                      entropy: &entropy, actions: &actions)
            return actions
        }
        switch frame {
        case .sendPacket(let destination, let packet):
            forward(packet, from: source, fromID: id, to: destination, now: now, actions: &actions)
        case .ping(let payload):
            if enqueueControl(.pong(payload), to: id, actions: &actions) { stats.pongsSent += 1 }
        case .pong, .keepAlive:
            break
        case .clientInfo:
            violation(id, "second ClientInfo", now: now, actions: &actions)
        case .serverKey, .serverInfo, .recvPacket, .peerGone:
            violation(id, "server-only frame from a client", now: now, actions: &actions)
        }
        return actions
    }

    /// Frames queued for a connection, oldest first, at most `maxFrames` / about `maxBytes`.
    /// An empty answer means the queue is drained: the next enqueue yields a new `.wake`.
    public mutating func dequeue(_ id: RelayConnectionID, maxFrames: Int = 64, maxBytes: Int = 256 * 1024) -> [RelayFrame] {
        guard var c = connections[id] else { return [] }
        connections[id] = nil  // avoid a copy-on-write of the queue while we mutate it
        var out: [RelayFrame] = []
        var bytes = 0
        while out.count < maxFrames && bytes < maxBytes, let f = c.queue.popFirst() {
            let n = f.wireLength
            bytes += n
            if case .recvPacket = f {
                c.queuedPackets -= 1
                c.queuedBytes -= n
            } else {
                c.queuedControl -= 1
            }
            out.append(f)
        }
        if out.isEmpty { c.wakePending = false }
        c.stats.queuedPackets = c.queuedPackets
        c.stats.queuedBytes = c.queuedBytes
        connections[id] = c
        return out
    }

    /// Everything queued for a connection (tests and shutdown).
    public mutating func dequeueAll(_ id: RelayConnectionID) -> [RelayFrame] {
        var all: [RelayFrame] = []
        while true {
            let batch = dequeue(id, maxFrames: .max, maxBytes: .max)
            if batch.isEmpty { return all }
            all += batch
        }
    }

    // MARK: - Coordinator hooks

    /// The node was removed or expired: its connection is closed and forgotten at once, its
    /// packets are refused from now on, and it cannot reconnect for `revocationHold` (or until
    /// `reinstate`).
    public mutating func revoke(_ nodeKey: PublicKey, now: MonotonicTime) -> [RelayServerAction] {
        revoked[nodeKey] = now + config.revocationHold
        stats.revocations += 1
        var actions: [RelayServerAction] = []
        if let id = byKey[nodeKey] {
            remove(id, now: now, notifyPeers: true, actions: &actions)
            actions.append(.close(id, .revoked))
        }
        return actions
    }

    /// Lifts a revocation (the key registered again).
    public mutating func reinstate(_ nodeKey: PublicKey) {
        revoked[nodeKey] = nil
    }

    /// Timers: handshake timeouts, keepalives, re-authorization, pruning of rate-limit state.
    public mutating func tick(now: MonotonicTime) -> [RelayServerAction] {
        var actions: [RelayServerAction] = []
        for id in connections.keys.sorted() {
            guard let c = connections[id] else { continue }
            guard let key = c.nodeKey else {
                if now - c.acceptedAt >= config.handshakeTimeout {
                    stats.handshakeTimeouts += 1
                    remove(id, now: now, notifyPeers: false, actions: &actions)
                    actions.append(.close(id, .handshakeTimeout))
                }
                continue
            }
            if let every = config.reauthorizeInterval, now - c.lastAuthorized >= every {
                if !authorize(key) {
                    stats.handshakesRefused += 1
                    remove(id, now: now, notifyPeers: true, actions: &actions)
                    actions.append(.close(id, .refused(.notAuthorized)))
                    continue
                }
                connections[id]!.lastAuthorized = now
            }
            if now - c.lastKeepAlive >= config.keepAliveInterval {
                connections[id]!.lastKeepAlive = now
                if enqueueControl(.keepAlive, to: id, actions: &actions) { stats.keepAlivesSent += 1 }
            }
            let window = config.recentSenderWindow, notHere = config.notHereInterval
            if !c.recentSenders.isEmpty { connections[id]!.recentSenders = c.recentSenders.filter { now - $0.value <= window } }
            if !c.notHereSent.isEmpty { connections[id]!.notHereSent = c.notHereSent.filter { now - $0.value < notHere } }
        }
        if !revoked.isEmpty { revoked = revoked.filter { now < $0.value } }
        if !seenProofs.isEmpty { seenProofs = seenProofs.filter { now < $0.value } }
        return actions
    }

    /// Closes every connection.
    public mutating func shutdown(now: MonotonicTime) -> [RelayServerAction] {
        var actions: [RelayServerAction] = []
        for id in connections.keys.sorted() {
            remove(id, now: now, notifyPeers: false, actions: &actions)
            actions.append(.close(id, .shutdown))
        }
        return actions
    }

    // MARK: - Internals

    private mutating func handshake<E: EntropySource>(_ id: RelayConnectionID, nodeKey: PublicKey, nonce: [UInt8], sealed: [UInt8],
                                                      now: MonotonicTime, unixTime: Int64, entropy: inout E,
                                                      actions: inout [RelayServerAction]) {
        func refuse(_ e: RelayProofError) {
            stats.handshakesRefused += 1
            remove(id, now: now, notifyPeers: false, actions: &actions)
            actions.append(.close(id, .refused(e)))
        }
        guard !nodeKey.isZero, let shared = Box.SharedKey(peer: nodeKey, own: privateKey) else {
            return refuse(.invalidNodeKey)
        }
        do {
            _ = try RelayClientProof.open(sealed: sealed, nonce: nonce, shared: shared, unixTime: unixTime,
                                          maxClockSkew: config.maxClockSkew)
        } catch {
            return refuse(error)
        }
        let proofID = nodeKey.rawBytes + nonce
        if let until = seenProofs[proofID], now < until { return refuse(.replayed) }
        if isRevoked(nodeKey, now: now) { return refuse(.revoked) }
        guard authorize(nodeKey) else { return refuse(.notAuthorized) }
        // Remember the proof long enough that its timestamp goes stale before it is forgotten.
        seenProofs[proofID] = now + .seconds(2 * config.maxClockSkew + 1)

        var inherited: [PublicKey: MonotonicTime] = [:]
        if let old = byKey[nodeKey], old != id {
            inherited = connections[old]?.recentSenders ?? [:]
            stats.connectionsReplaced += 1
            remove(old, now: now, notifyPeers: false, actions: &actions)
            actions.append(.close(old, .replaced))
        }
        byKey[nodeKey] = id
        connections[id]!.nodeKey = nodeKey
        connections[id]!.shared = shared
        connections[id]!.lastAuthorized = now
        connections[id]!.lastKeepAlive = now
        connections[id]!.recentSenders = inherited
        connections[id]!.stats.nodeKey = nodeKey
        stats.handshakesCompleted += 1
        stats.authorizedClients = byKey.count

        var serverNonce = [UInt8](repeating: 0, count: Box.nonceLength)
        serverNonce.withUnsafeMutableBytes { entropy.fill($0) }
        let info = RelayServerInfo(clientNonce: nonce, keepAliveSeconds: UInt32(clamping: config.keepAliveInterval.nanoseconds / 1_000_000_000),
                                   maxPacketBytes: UInt32(clamping: config.maxPacketBytes),
                                   queueLimitPackets: UInt32(clamping: config.maxQueuedPackets),
                                   queueLimitBytes: UInt32(clamping: config.maxQueuedBytes))
        enqueueControl(.serverInfo(info.sealedPayload(shared: shared, nonce: serverNonce)), to: id, actions: &actions)
    }

    private mutating func forward(_ packet: [UInt8], from source: PublicKey, fromID: RelayConnectionID, to destination: PublicKey,
                                  now: MonotonicTime, actions: inout [RelayServerAction]) {
        guard packet.count <= config.maxPacketBytes else {
            stats.packetsDropped += 1
            stats.bytesDropped += packet.count
            return
        }
        guard let destID = byKey[destination], var d = connections[destID] else {
            stats.packetsToAbsentPeers += 1
            // One PeerGone(notHere) per (sender, destination) per interval.
            let last = connections[fromID]!.notHereSent[destination]
            if last == nil || now - last! >= config.notHereInterval {
                if last != nil || connections[fromID]!.notHereSent.count < config.maxTrackedPeersPerClient {
                    connections[fromID]!.notHereSent[destination] = now
                }
                if enqueueControl(.peerGone(destination, reason: .notHere), to: fromID, actions: &actions) {
                    stats.peerGoneNotHereSent += 1
                }
            }
            return
        }
        connections[fromID]!.stats.packetsFrom += 1
        connections[destID] = nil  // mutate the destination without copying its queue
        let frame = RelayFrame.recvPacket(source: source, packet: packet)
        let n = frame.wireLength
        if d.queuedPackets >= config.maxQueuedPackets || d.queuedBytes + n > config.maxQueuedBytes {
            d.stats.droppedPackets += 1
            d.stats.droppedBytes += packet.count
            stats.packetsDropped += 1
            stats.bytesDropped += packet.count
        } else {
            d.queue.append(frame)
            d.queuedPackets += 1
            d.queuedBytes += n
            d.stats.packetsTo += 1
            d.stats.queuedPackets = d.queuedPackets
            d.stats.queuedBytes = d.queuedBytes
            stats.packetsForwarded += 1
            stats.bytesForwarded += packet.count
            if !d.wakePending {
                d.wakePending = true
                actions.append(.wake(destID))
            }
        }
        if d.recentSenders[source] != nil || d.recentSenders.count < config.maxTrackedPeersPerClient {
            d.recentSenders[source] = now
        }
        connections[destID] = d
    }

    @discardableResult
    private mutating func enqueueControl(_ frame: RelayFrame, to id: RelayConnectionID, actions: inout [RelayServerAction]) -> Bool {
        guard connections[id] != nil else { return false }
        guard connections[id]!.queuedControl < config.maxQueuedControlFrames else {
            stats.controlFramesDropped += 1
            return false
        }
        connections[id]!.queue.append(frame)
        connections[id]!.queuedControl += 1
        if !connections[id]!.wakePending {
            connections[id]!.wakePending = true
            actions.append(.wake(id))
        }
        return true
    }

    private mutating func violation(_ id: RelayConnectionID, _ what: String, now: MonotonicTime, actions: inout [RelayServerAction]) {
        stats.protocolViolations += 1
        remove(id, now: now, notifyPeers: true, actions: &actions)
        actions.append(.close(id, .protocolViolation(what)))
    }

    /// Forgets a connection; when it held its node key, tells the peers that recently sent to it.
    private mutating func remove(_ id: RelayConnectionID, now: MonotonicTime, notifyPeers: Bool, actions: inout [RelayServerAction]) {
        guard let c = connections.removeValue(forKey: id) else { return }
        // Drop wake actions for the removed connection that this same call produced.
        actions.removeAll { $0 == .wake(id) }
        if let key = c.nodeKey, byKey[key] == id {
            byKey[key] = nil
            if notifyPeers {
                for (sender, at) in c.recentSenders.sorted(by: { $0.value < $1.value })
                where now - at <= config.recentSenderWindow {
                    guard let sid = byKey[sender] else { continue }
                    if enqueueControl(.peerGone(key, reason: .disconnected), to: sid, actions: &actions) {
                        stats.peerGoneDisconnectedSent += 1
                    }
                }
            }
        }
        stats.currentConnections = connections.count
        stats.authorizedClients = byKey.count
    }
}
