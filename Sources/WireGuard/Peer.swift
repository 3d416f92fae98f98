import MeshCrypto

/// One remote WireGuard peer: its keys, sessions, staged packets and timer deadlines.
/// All mutable state sits behind `lock`; the `Device` is the only code that drives it.
public final class Peer: @unchecked Sendable {
    public let publicKey: PublicKey
    let presharedKey: PresharedKey
    /// DH(our static, their static), the same for every handshake: computed once.
    let staticStatic: [UInt8]
    let lock = Lock()

    // Everything below is guarded by `lock`.
    var endpoint: UDPAddress?
    var persistentKeepalive: Duration?
    var keypairs = Keypairs()
    var cookies: CookieSender
    var latestInitiationTimestamp = TAI64N.zero
    var latestInitiationConsumedAt: MonotonicTime?
    var lastInitiationSentAt: MonotonicTime?
    var handshakeAttempts = 0
    var sentLastMinuteHandshake = false
    var staged: [[UInt8]] = []
    /// Set by the data path, acted on by `Device.serviceFollowUps` outside the hot loop.
    var wantsHandshake = false
    var wantsFlush = false

    // Timer deadlines (whitepaper section 6), nil when not armed.
    var retransmitHandshakeAt: MonotonicTime?
    var sendKeepaliveAt: MonotonicTime?
    var needAnotherKeepalive = false
    var newHandshakeAt: MonotonicTime?
    var zeroKeyMaterialAt: MonotonicTime?
    var persistentKeepaliveAt: MonotonicTime?

    // Statistics.
    var rxBytes: UInt64 = 0
    var txBytes: UInt64 = 0
    var lastHandshakeAt: MonotonicTime?

    static let maxStagedPackets = 128

    init(publicKey: PublicKey, presharedKey: PresharedKey, staticStatic: [UInt8]) {
        self.publicKey = publicKey
        self.presharedKey = presharedKey
        self.staticStatic = staticStatic
        self.cookies = CookieSender(remoteStatic: publicKey)
    }

    /// A consistent copy of what `meshctl status` shows.
    public struct Snapshot: Sendable {
        public var publicKey: PublicKey
        public var endpoint: UDPAddress?
        public var lastHandshakeAt: MonotonicTime?
        public var rxBytes: UInt64
        public var txBytes: UInt64
        public var persistentKeepalive: Duration?
        public var hasSession: Bool
    }

    public func snapshot() -> Snapshot {
        lock.withLock {
            Snapshot(publicKey: publicKey, endpoint: endpoint, lastHandshakeAt: lastHandshakeAt,
                     rxBytes: rxBytes, txBytes: txBytes, persistentKeepalive: persistentKeepalive,
                     hasSession: keypairs.hasSession)
        }
    }

    public var currentEndpoint: UDPAddress? {
        get { lock.withLock { endpoint } }
    }

    /// Points the peer at a new address (configuration or a control plane decision).
    public func setEndpoint(_ address: UDPAddress?) {
        lock.withLock { endpoint = address }
    }
}
