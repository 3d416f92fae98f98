import MeshCrypto
import MeshWire
import MeshBase

public struct RelayClientConfig: Sendable {
    /// The relay key the coordinator announced; a ServerKey frame with another key is refused.
    /// Nil: trust the key the relay sends (its ServerInfo still has to be sealed with it).
    public var pinnedServerKey: PublicKey?
    /// The handshake (ServerKey, ClientInfo, ServerInfo) must finish within this time.
    public var handshakeTimeout: Duration = .seconds(10)
    /// The client pings when it has heard nothing from the relay for this long.
    public var pingInterval: Duration = .seconds(30)
    /// Nothing at all from the relay for this long: the connection is dead.
    public var readTimeout: Duration = .seconds(75)
    /// A connection that carries traffic (the node is sending through it, or it is the node's
    /// home, where peers send to it) is watched closely: a relay that goes silent then costs
    /// seconds, not the idle read timeout, before relayed traffic moves to another relay
    /// (a region outage rarely closes the TCP connection; the packets just stop).
    /// Pings when quiet for this long while watched closely...
    public var watchedPingInterval: Duration = .seconds(1)
    /// ...and the connection is dead when a ping has gone unanswered (nothing at all heard
    /// since it was sent) for this long.
    public var watchedPongTimeout: Duration = .milliseconds(2500)
    /// Sending through the relay keeps it watched closely for this long after the last packet.
    public var sendingWindow: Duration = .seconds(10)

    public init(pinnedServerKey: PublicKey? = nil) { self.pinnedServerKey = pinnedServerKey }
}

public enum RelayClientError: Error, Equatable, Sendable, CustomStringConvertible {
    case serverKeyMismatch(expected: PublicKey, got: PublicKey)
    case invalidServerKey
    /// The ServerInfo is not sealed by the relay key to our node key, or not for this connection.
    case serverInfoInvalid
    case unexpectedFrame(String)
    case handshakeTimeout
    case readTimeout
    case pongTimeout
    case notConnected
    case packetTooLarge(Int)

    public var description: String {
        switch self {
        case .serverKeyMismatch(let e, let g): return "relay key \(g) is not the pinned key \(e)"
        case .invalidServerKey: return "relay key is not a valid X25519 public key"
        case .serverInfoInvalid: return "ServerInfo is not sealed by the relay key for this connection"
        case .unexpectedFrame(let s): return "unexpected frame from the relay: \(s)"
        case .handshakeTimeout: return "relay handshake timed out"
        case .readTimeout: return "nothing heard from the relay within the read timeout"
        case .pongTimeout: return "the relay did not answer a ping in time"
        case .notConnected: return "relay connection is not established"
        case .packetTooLarge(let n): return "packet of \(n) bytes is too large for a relay frame"
        }
    }
}

/// What the driver does after feeding a frame to the client core.
public enum RelayClientEvent: Equatable, Sendable {
    /// Write this frame to the relay.
    case send(RelayFrame)
    /// The handshake finished: the relay proved its key and accepted ours.
    case connected(serverKey: PublicKey, RelayServerInfo)
    /// A packet relayed from `source`.
    case packet(source: PublicKey, [UInt8])
    case peerGone(PublicKey, RelayFrame.PeerGoneReason)
    /// An answer to our ping; `rtt` when it matched one we sent.
    case pong([UInt8], rtt: Duration?)
}

/// One relay connection, client side: ServerKey check, ClientInfo proof, ServerInfo check, then
/// SendPacket out and RecvPacket / PeerGone in, with pings and timeouts. Pure: time and random
/// bytes are parameters. A new core is made for every connection; the `Backoff` schedule spans them.
public struct RelayClientCore: Sendable {
    public enum State: Equatable, Sendable {
        case awaitingServerKey
        case awaitingServerInfo
        case connected
    }

    public let nodeKey: PublicKey
    private let privateKey: PrivateKey
    public let config: RelayClientConfig
    public private(set) var state: State = .awaitingServerKey
    public private(set) var serverKey: PublicKey?
    public private(set) var serverInfo: RelayServerInfo?
    private var shared: Box.SharedKey?
    private var clientNonce: [UInt8] = []
    private let startedAt: MonotonicTime
    private var lastReceived: MonotonicTime
    private var lastPingSent: MonotonicTime?
    /// When the first ping after the last frame received went out; nil once anything arrives.
    private var unansweredSince: MonotonicTime?
    private var lastSent: MonotonicTime?
    private var outstandingPings: [(payload: [UInt8], at: MonotonicTime)] = []

    /// A connection whose transport (TCP + HTTP upgrade) is up at `now`.
    public init(privateKey: PrivateKey, config: RelayClientConfig = RelayClientConfig(), now: MonotonicTime) {
        _ = Sodium.isReady
        self.privateKey = privateKey
        self.nodeKey = privateKey.publicKey
        self.config = config
        self.startedAt = now
        self.lastReceived = now
    }

    public var isConnected: Bool { state == .connected }

    /// Traffic the driver delivered without a frame value (RecvPacket after the handshake, see
    /// `RelayFrameDecoder.next(deliveringPackets:)`): it counts against the read timeout like
    /// any frame.
    public mutating func noteReceived(now: MonotonicTime) { heard(now) }

    /// Packets the driver sent through the relay (outside the core, straight into the
    /// connection's batch): they make the connection watched closely for `sendingWindow`.
    public mutating func noteSent(now: MonotonicTime) { lastSent = now }

    private mutating func heard(_ now: MonotonicTime) {
        lastReceived = now
        unansweredSince = nil
    }

    public mutating func receive<E: EntropySource>(_ frame: RelayFrame, now: MonotonicTime, unixTime: Int64,
                                                   entropy: inout E) throws(RelayClientError) -> [RelayClientEvent] {
        heard(now)
        switch state {
        case .awaitingServerKey:
            guard case .serverKey(let key) = frame else { throw .unexpectedFrame("expected ServerKey") }
            if let pinned = config.pinnedServerKey, pinned != key {
                throw .serverKeyMismatch(expected: pinned, got: key)
            }
            guard !key.isZero, let shared = Box.SharedKey(peer: key, own: privateKey) else { throw .invalidServerKey }
            var nonce = [UInt8](repeating: 0, count: Box.nonceLength)
            nonce.withUnsafeMutableBytes { entropy.fill($0) }
            guard let info = RelayClientProof.seal(nodeKey: privateKey, serverKey: key, unixTime: unixTime, nonce: nonce) else {
                throw .invalidServerKey
            }
            self.serverKey = key
            self.shared = shared
            self.clientNonce = nonce
            state = .awaitingServerInfo
            return [.send(info)]
        case .awaitingServerInfo:
            guard case .serverInfo(let payload) = frame else { throw .unexpectedFrame("expected ServerInfo") }
            guard let shared, let info = RelayServerInfo.open(payload: payload, shared: shared),
                  info.clientNonce == clientNonce else { throw .serverInfoInvalid }
            serverInfo = info
            state = .connected
            return [.connected(serverKey: serverKey!, info)]
        case .connected:
            switch frame {
            case .recvPacket(let source, let packet): return [.packet(source: source, packet)]
            case .peerGone(let key, let reason): return [.peerGone(key, reason)]
            case .keepAlive: return []
            case .ping(let payload): return [.send(.pong(payload))]
            case .pong(let payload):
                var rtt: Duration?
                if let i = outstandingPings.firstIndex(where: { $0.payload == payload }) {
                    rtt = now - outstandingPings[i].at
                    outstandingPings.remove(at: i)
                }
                return [.pong(payload, rtt: rtt)]
            case .serverKey, .serverInfo, .clientInfo, .sendPacket:
                throw .unexpectedFrame("client-only or handshake frame after the handshake")
            }
        }
    }

    /// The frame that sends `packet` to `destination` through the relay.
    public func send(to destination: PublicKey, packet: [UInt8]) throws(RelayClientError) -> RelayFrame {
        guard state == .connected else { throw .notConnected }
        let limit = serverInfo.map { Int($0.maxPacketBytes) } ?? (RelayFrame.maxPayload - 32)
        guard packet.count <= min(limit, RelayFrame.maxPayload - 32) else { throw .packetTooLarge(packet.count) }
        return .sendPacket(destination: destination, packet: packet)
    }

    /// A Ping frame with 8 random bytes; its Pong reports the round-trip time.
    public mutating func ping<E: EntropySource>(now: MonotonicTime, entropy: inout E) -> RelayFrame {
        var payload = [UInt8](repeating: 0, count: 8)
        payload.withUnsafeMutableBytes { entropy.fill($0) }
        if outstandingPings.count >= 8 { outstandingPings.removeFirst() }
        outstandingPings.append((payload, now))
        lastPingSent = now
        if unansweredSince == nil { unansweredSince = now }
        return .ping(payload)
    }

    /// Timers: the handshake and read timeouts (thrown: close and reconnect), and a ping when
    /// the relay has been quiet for `pingInterval`, or for `watchedPingInterval` while the
    /// connection is watched closely (`home`, or packets sent within `sendingWindow`); then a
    /// ping unanswered for `watchedPongTimeout` ends the connection too.
    public mutating func tick<E: EntropySource>(now: MonotonicTime, home: Bool = false,
                                                entropy: inout E) throws(RelayClientError) -> [RelayFrame] {
        guard state == .connected else {
            if now - startedAt >= config.handshakeTimeout { throw .handshakeTimeout }
            return []
        }
        if now - lastReceived >= config.readTimeout { throw .readTimeout }
        let watched = home || lastSent.map { now - $0 < config.sendingWindow } == true
        if watched, let since = unansweredSince, now - since >= config.watchedPongTimeout { throw .pongTimeout }
        let interval = watched ? min(config.watchedPingInterval, config.pingInterval) : config.pingInterval
        if now - lastReceived >= interval, lastPingSent.map({ now - $0 >= interval }) ?? true {
            return [ping(now: now, entropy: &entropy)]
        }
        return []
    }
}
