import MeshCrypto
import MeshWire

// The relay handshake (DESIGN.md section 6):
//
//   server → client   ServerKey   the relay's public key
//   client → server   ClientInfo  node public key | nonce (24) | box(info)
//                                 box = crypto_box_easy(info, nonce, relay public key, node private key)
//                                 info = version (2, big endian) | unix seconds (8, big endian, signed)
//   server → client   ServerInfo  nonce (24) | box(server info), sealed from the relay key to the node key
//                                 server info = version (2) | echo of the ClientInfo nonce (24) |
//                                               keepalive seconds (4) | max packet bytes (4) |
//                                               queue limit packets (4) | queue limit bytes (4)
//
// Opening the ClientInfo box with the claimed node key proves the client holds its private half;
// the timestamp bounds a replay to the skew window, and the server also remembers the nonces it
// saw within that window. The ServerInfo box proves to the client that the relay holds the
// private half of the (pinned) relay key, and the echoed nonce ties it to this connection.
// Later fields may be appended to either info; readers ignore bytes they do not know.

/// What a client states in its ClientInfo.
public struct RelayClientInfo: Equatable, Sendable {
    public var version: UInt16
    /// Unix seconds at the client when it sealed the info.
    public var timestamp: Int64

    public static let currentVersion: UInt16 = 1
    static let encodedLength = 10

    public init(version: UInt16 = RelayClientInfo.currentVersion, timestamp: Int64) {
        self.version = version
        self.timestamp = timestamp
    }

    public var encoded: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Self.encodedLength)
        out.appendBigEndian(version)
        out.appendBigEndian(UInt64(bitPattern: timestamp))
        return out
    }

    public init?(decoding b: [UInt8]) {
        guard b.count >= Self.encodedLength else { return nil }
        version = UInt16(bigEndianBytes: b[0..<2])
        timestamp = Int64(bitPattern: UInt64(bigEndianBytes: b[2..<10]))
    }
}

/// Why a ClientInfo was refused.
public enum RelayProofError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The box did not open: the client does not hold the claimed node key, sealed to another
    /// relay key, or the bytes were altered.
    case authenticationFailed
    /// The claimed node key is a low-order point or all zeros.
    case invalidNodeKey
    /// The box opened but its content is not a ClientInfo.
    case malformedInfo
    case unsupportedVersion(UInt16)
    /// The timestamp is further than the allowed skew from the relay's clock.
    case staleTimestamp(skewSeconds: Int64)
    /// This exact ClientInfo was already used.
    case replayed
    /// The proof is valid but the node is not a registered, unexpired node of the network.
    case notAuthorized
    /// The node key was revoked by the coordinator.
    case revoked

    public var description: String {
        switch self {
        case .authenticationFailed: return "ClientInfo box does not open with the claimed node key"
        case .invalidNodeKey: return "ClientInfo node key is not a valid X25519 public key"
        case .malformedInfo: return "ClientInfo content is malformed"
        case .unsupportedVersion(let v): return "ClientInfo version \(v) is not supported"
        case .staleTimestamp(let s): return "ClientInfo timestamp is \(s) s away from the relay's clock"
        case .replayed: return "ClientInfo was already used (replay)"
        case .notAuthorized: return "node key is not a registered, unexpired node of this network"
        case .revoked: return "node key was revoked"
        }
    }
}

/// Sealing and opening of the ClientInfo proof. Pure: the time and the nonce are parameters.
public enum RelayClientProof {
    public static let defaultMaxClockSkew: Int64 = 60

    /// The ClientInfo frame a client sends: `nonce` must be 24 fresh random bytes.
    public static func seal(nodeKey: PrivateKey, serverKey: PublicKey, unixTime: Int64,
                            nonce: [UInt8], version: UInt16 = RelayClientInfo.currentVersion) -> RelayFrame? {
        let info = RelayClientInfo(version: version, timestamp: unixTime)
        guard let box = Box.seal(info.encoded, nonce: nonce, to: serverKey, from: nodeKey) else { return nil }
        return .clientInfo(nodeKey: nodeKey.publicKey, nonce: nonce, sealed: box)
    }

    /// Opens a ClientInfo and checks its timestamp against `unixTime` (the relay's clock).
    /// Success proves the sender holds the private half of `nodeKey`.
    public static func open(nodeKey: PublicKey, nonce: [UInt8], sealed: [UInt8], serverKey: PrivateKey,
                            unixTime: Int64, maxClockSkew: Int64 = defaultMaxClockSkew) throws(RelayProofError) -> RelayClientInfo {
        guard !nodeKey.isZero, let shared = Box.SharedKey(peer: nodeKey, own: serverKey) else { throw .invalidNodeKey }
        return try open(sealed: sealed, nonce: nonce, shared: shared, unixTime: unixTime, maxClockSkew: maxClockSkew)
    }

    static func open(sealed: [UInt8], nonce: [UInt8], shared: Box.SharedKey, unixTime: Int64,
                     maxClockSkew: Int64) throws(RelayProofError) -> RelayClientInfo {
        guard let plain = shared.open(sealed, nonce: nonce) else { throw .authenticationFailed }
        guard let info = RelayClientInfo(decoding: plain) else { throw .malformedInfo }
        guard info.version >= 1 else { throw .unsupportedVersion(info.version) }
        let skew = info.timestamp.subtractingReportingOverflow(unixTime)
        if skew.overflow || skew.partialValue > maxClockSkew || skew.partialValue < -maxClockSkew {
            throw .staleTimestamp(skewSeconds: skew.overflow ? .max : skew.partialValue)
        }
        return info
    }
}

/// What the relay tells an authorized client, sealed to its node key.
public struct RelayServerInfo: Equatable, Sendable {
    public var version: UInt16
    /// The client's ClientInfo nonce, echoed so the client knows the answer is for this connection.
    public var clientNonce: [UInt8]
    public var keepAliveSeconds: UInt32
    public var maxPacketBytes: UInt32
    public var queueLimitPackets: UInt32
    public var queueLimitBytes: UInt32

    public static let currentVersion: UInt16 = 1
    static let encodedLength = 2 + 24 + 16

    public init(version: UInt16 = RelayServerInfo.currentVersion, clientNonce: [UInt8], keepAliveSeconds: UInt32,
                maxPacketBytes: UInt32, queueLimitPackets: UInt32, queueLimitBytes: UInt32) {
        self.version = version
        self.clientNonce = clientNonce
        self.keepAliveSeconds = keepAliveSeconds
        self.maxPacketBytes = maxPacketBytes
        self.queueLimitPackets = queueLimitPackets
        self.queueLimitBytes = queueLimitBytes
    }

    public var encoded: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Self.encodedLength)
        out.appendBigEndian(version)
        out += clientNonce
        out.appendBigEndian(keepAliveSeconds)
        out.appendBigEndian(maxPacketBytes)
        out.appendBigEndian(queueLimitPackets)
        out.appendBigEndian(queueLimitBytes)
        return out
    }

    public init?(decoding b: [UInt8]) {
        guard b.count >= Self.encodedLength else { return nil }
        version = UInt16(bigEndianBytes: b[0..<2])
        clientNonce = Array(b[2..<26])
        keepAliveSeconds = UInt32(bigEndianBytes: b[26..<30])
        maxPacketBytes = UInt32(bigEndianBytes: b[30..<34])
        queueLimitPackets = UInt32(bigEndianBytes: b[34..<38])
        queueLimitBytes = UInt32(bigEndianBytes: b[38..<42])
    }

    /// The ServerInfo frame payload: nonce (24) | box.
    public func sealedPayload(shared: Box.SharedKey, nonce: [UInt8]) -> [UInt8] {
        nonce + shared.seal(encoded, nonce: nonce)
    }

    public static func open(payload: [UInt8], shared: Box.SharedKey) -> RelayServerInfo? {
        guard payload.count >= Box.nonceLength + Box.tagLength else { return nil }
        let nonce = Array(payload.prefix(Box.nonceLength))
        guard let plain = shared.open(Array(payload.dropFirst(Box.nonceLength)), nonce: nonce) else { return nil }
        return RelayServerInfo(decoding: plain)
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian<T: FixedWidthInteger>(_ v: T) {
        let be = v.bigEndian
        Swift.withUnsafeBytes(of: be) { append(contentsOf: $0) }
    }
}

extension FixedWidthInteger {
    init(bigEndianBytes b: ArraySlice<UInt8>) {
        var v: Self = 0
        for x in b { v = (v << 8) | Self(x) }
        self = v
    }
}
