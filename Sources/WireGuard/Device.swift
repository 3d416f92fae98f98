import MeshCrypto
import Synchronization

/// The WireGuard protocol for one local identity and its peers, with no I/O: the driver feeds
/// it IP packets from the TUN and datagrams from the socket, passes in the time and random bytes,
/// and sends or writes whatever it returns. Safe to call from several threads at once:
/// Sendable by hand because the peer tables are guarded by `tableLock` and the cookie state by
/// `cookieLock` (each `Peer` guards its own state).
public final class Device: @unchecked Sendable {
    public let privateKey: PrivateKey
    public let publicKey: PublicKey
    public let timers: ProtocolTimers
    /// Inner MTU: packets are padded up to a multiple of 16 but never past it.
    public let mtu: Int
    /// Handshake messages per second above which we demand cookies (mac2) before doing DH work.
    public let underLoadThreshold: Int

    // The state below is internal rather than private only because the Device extensions in
    // DeviceSend, DeviceReceive, DeviceTimers and DeviceIndexTable work on it; nothing outside
    // this module can see it.

    /// One lock for all four tables: configuration changes them together, and each critical
    /// section is a lookup or two, too short to be worth splitting.
    let tableLock = Lock()
    var peersByKey: [PublicKey: Peer] = [:]
    var routes = AllowedIPs<Peer>()
    /// Receiver index to peer, so a message finds its session with one lookup whatever its source.
    var indexTable: [UInt32: Peer] = [:]
    /// Peers the data path left work for (a handshake, staged packets): encapsulate and
    /// decapsulate never send themselves, so the driver drains this with `serviceFollowUps`.
    var followUps: [ObjectIdentifier: Peer] = [:]
    /// Behind `pathsChosenByTransport`; atomic, so the data path reads it without a lock.
    let transportChoosesPaths = Atomic<Bool>(false)

    /// Apart from `tableLock` so that checking mac1 under a handshake flood never delays the data path.
    let cookieLock = Lock()
    var cookieChecker: CookieChecker
    var loadWindowStart = MonotonicTime(nanoseconds: Int64.min / 2)
    var handshakesInWindow = 0

    /// Who decides where a peer's datagrams go. Off (standalone, plain WireGuard): the device,
    /// from its configured endpoint, moved by every authenticated packet from a new source
    /// (WireGuard's roaming); a peer without an endpoint cannot be sent to. On (mesh mode): the
    /// transport below the device (MagicSock), which is then the one authority on a peer's
    /// path: the device never roams, a peer needs no endpoint, and every datagram the device
    /// hands out carries the configured endpoint only as a hint, nil when there is none
    /// (docs/architecture.md, "The transport seam").
    public var pathsChosenByTransport: Bool {
        get { transportChoosesPaths.load(ordering: .relaxed) }
        set { transportChoosesPaths.store(newValue, ordering: .relaxed) }
    }

    public init(privateKey: PrivateKey, mtu: Int = 1280, timers: ProtocolTimers = .standard,
                underLoadThreshold: Int = 1000) {
        _ = Sodium.isReady
        self.privateKey = privateKey
        self.publicKey = privateKey.publicKey
        self.timers = timers
        self.mtu = mtu
        self.underLoadThreshold = underLoadThreshold
        self.cookieChecker = CookieChecker(localPublic: publicKey)
    }

    // MARK: Configuration

    public struct PeerConfigurationError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Adds a peer, or updates its endpoint, keepalive and routes if it exists.
    @discardableResult
    public func addPeer(publicKey: PublicKey, presharedKey: PresharedKey? = nil, endpoint: UDPAddress? = nil,
                        persistentKeepalive: Duration? = nil, allowedIPs: [(address: [UInt8], prefixLength: Int)] = [],
                        now: MonotonicTime) throws -> Peer {
        guard publicKey != self.publicKey else { throw PeerConfigurationError(description: "a peer cannot have our own public key") }
        let ss: [UInt8]
        do { ss = NoiseHandshake.bytes(try X25519.sharedSecret(privateKey, publicKey)) } catch {
            throw PeerConfigurationError(description: "peer public key \(publicKey) is a low-order point")
        }
        let peer: Peer = tableLock.withLock {
            if let existing = peersByKey[publicKey] { return existing }
            let p = Peer(publicKey: publicKey, presharedKey: presharedKey ?? .zero, staticStatic: ss)
            peersByKey[publicKey] = p
            return p
        }
        peer.lock.withLock {
            if let endpoint { peer.endpoint = endpoint }
            peer.persistentKeepalive = persistentKeepalive
            // Like wg-quick: a peer with a persistent keepalive is contacted at once.
            peer.persistentKeepaliveAt = persistentKeepalive == nil ? nil : now
        }
        tableLock.withLock {
            routes.removeAll(for: peer)
            for r in allowedIPs { routes.insert(address: r.address, prefixLength: r.prefixLength, value: peer) }
        }
        return peer
    }

    public func removePeer(_ publicKey: PublicKey) {
        tableLock.withLock {
            guard let peer = peersByKey.removeValue(forKey: publicKey) else { return }
            routes.removeAll(for: peer)
            for idx in peer.lock.withLock({ peer.keypairs.indicesInUse }) { indexTable[idx] = nil }
            followUps[ObjectIdentifier(peer)] = nil
        }
    }

    public func peer(for key: PublicKey) -> Peer? { tableLock.withLock { peersByKey[key] } }
    public var peers: [Peer] { tableLock.withLock { Array(peersByKey.values) } }

    /// Cryptokey routing, outbound: the peer whose allowed IPs hold the packet's destination.
    @inline(__always)
    public func route(packet: UnsafeRawBufferPointer) -> Peer? {
        tableLock.withLock { routes.lookup(packet: packet, source: false) }
    }
}
