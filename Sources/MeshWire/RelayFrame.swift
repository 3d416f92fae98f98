import MeshCrypto

/// One frame of the DERP-style relay protocol (DESIGN.md section 6):
/// `type (1) | length (4, big endian) | payload`, payload at most 64 KiB.
public enum RelayFrame: Equatable, Sendable {
    case serverKey(PublicKey)
    /// Client node key, nonce and a box proving the client holds the node key's private half.
    case clientInfo(nodeKey: PublicKey, nonce: [UInt8], sealed: [UInt8])
    case serverInfo([UInt8])
    case sendPacket(destination: PublicKey, packet: [UInt8])
    case recvPacket(source: PublicKey, packet: [UInt8])
    case keepAlive
    case ping([UInt8])
    case pong([UInt8])
    case peerGone(PublicKey, reason: PeerGoneReason)

    public enum PeerGoneReason: UInt8, Sendable { case disconnected = 0, notHere = 1 }

    public enum Code: UInt8, Sendable {
        case serverKey = 1, clientInfo = 2, serverInfo = 3, sendPacket = 4, recvPacket = 5
        case keepAlive = 6, ping = 7, pong = 8, peerGone = 9
    }

    public static let maxPayload = 64 * 1024
    public static let headerLength = 5

    public var encoded: [UInt8] {
        let (code, payload): (Code, [UInt8]) = {
            switch self {
            case .serverKey(let k): return (.serverKey, k.rawBytes)
            case .clientInfo(let k, let n, let s): return (.clientInfo, k.rawBytes + n + s)
            case .serverInfo(let b): return (.serverInfo, b)
            case .sendPacket(let k, let p): return (.sendPacket, k.rawBytes + p)
            case .recvPacket(let k, let p): return (.recvPacket, k.rawBytes + p)
            case .keepAlive: return (.keepAlive, [])
            case .ping(let b): return (.ping, b)
            case .pong(let b): return (.pong, b)
            case .peerGone(let k, let r): return (.peerGone, k.rawBytes + [r.rawValue])
            }
        }()
        let n = UInt32(payload.count)
        return [code.rawValue, UInt8(n >> 24), UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8),
                UInt8(truncatingIfNeeded: n)] + payload
    }

    /// Decodes a payload of a known type.
    static func decode(code: UInt8, payload: ArraySlice<UInt8>) throws(RelayFrameError) -> RelayFrame {
        guard let c = Code(rawValue: code) else { throw .unknownType(code) }
        func key(_ at: Int) throws(RelayFrameError) -> PublicKey {
            guard payload.count >= at + 32 else { throw .truncated }
            let s = payload.startIndex + at
            return try! PublicKey(rawBytes: payload[s..<s + 32])
        }
        let rest = { (at: Int) in Array(payload.dropFirst(at)) }
        switch c {
        case .serverKey:
            guard payload.count == 32 else { throw .truncated }
            return .serverKey(try key(0))
        case .clientInfo:
            guard payload.count >= 32 + Box.nonceLength + Box.tagLength else { throw .truncated }
            return .clientInfo(nodeKey: try key(0), nonce: Array(payload.dropFirst(32).prefix(Box.nonceLength)),
                               sealed: rest(32 + Box.nonceLength))
        case .serverInfo: return .serverInfo(Array(payload))
        case .sendPacket: return .sendPacket(destination: try key(0), packet: rest(32))
        case .recvPacket: return .recvPacket(source: try key(0), packet: rest(32))
        case .keepAlive: return .keepAlive
        case .ping, .pong:
            guard payload.count == 8 else { throw .truncated }
            return c == .ping ? .ping(Array(payload)) : .pong(Array(payload))
        case .peerGone:
            guard payload.count == 33, let r = PeerGoneReason(rawValue: payload.last!) else { throw .truncated }
            return .peerGone(try key(0), reason: r)
        }
    }
}

public enum RelayFrameError: Error, Equatable, Sendable, CustomStringConvertible {
    case truncated
    case unknownType(UInt8)
    case tooLarge(Int)

    public var description: String {
        switch self {
        case .truncated: return "relay frame payload too short for its type"
        case .unknownType(let t): return "unknown relay frame type \(t)"
        case .tooLarge(let n): return "relay frame of \(n) bytes exceeds the 64 KiB limit"
        }
    }
}

/// Cuts a byte stream into relay frames. Bytes arrive in arbitrary pieces; an oversized length
/// is an error at once, before any of the payload is buffered.
public struct RelayFrameDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0

    public init() {}

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// The same for bytes in place (a socket read): concrete, so appending costs no allocation
    /// once the buffer has grown (the generic one is not specialised in other modules and
    /// allocates per call).
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Drops consumed bytes once they are at least half the buffer (amortised: each byte is
    /// moved at most once per halving).
    private mutating func compact() {
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
    }

    /// The next complete frame, nil if more bytes are needed; throws on a malformed stream
    /// (the caller closes the connection).
    public mutating func next() throws(RelayFrameError) -> RelayFrame? {
        guard buffer.count - start >= RelayFrame.headerLength else { return nil }
        let n = Int(buffer[start + 1]) << 24 | Int(buffer[start + 2]) << 16 | Int(buffer[start + 3]) << 8 | Int(buffer[start + 4])
        guard n <= RelayFrame.maxPayload else { throw .tooLarge(n) }
        guard buffer.count - start >= RelayFrame.headerLength + n else { return nil }
        let code = buffer[start]
        let payload = buffer[(start + 5)..<(start + 5 + n)]
        start += 5 + n
        return try RelayFrame.decode(code: code, payload: payload)
    }

    /// Like `next()`, except that RecvPacket frames are not materialised: `deliver` is called
    /// with each one's source and its payload in place, mutable so the receiver can decrypt it
    /// there, and decoding goes on. Relayed traffic then costs no allocation and no copy beyond
    /// the one into this decoder (docs/architecture.md, "Relays"). The payload pointer is valid
    /// only during the call. Returns the next frame of any other type.
    public mutating func next(deliveringPackets deliver: (PublicKey, UnsafeMutableRawBufferPointer) -> Void)
        throws(RelayFrameError) -> RelayFrame? {
        while buffer.count - start >= RelayFrame.headerLength, buffer[start] == RelayFrame.Code.recvPacket.rawValue {
            let n = Int(buffer[start + 1]) << 24 | Int(buffer[start + 2]) << 16 | Int(buffer[start + 3]) << 8 | Int(buffer[start + 4])
            guard n <= RelayFrame.maxPayload else { throw .tooLarge(n) }
            guard buffer.count - start >= RelayFrame.headerLength + n else { return nil }
            guard n >= 32 else { throw .truncated }
            let keyStart = start + RelayFrame.headerLength
            let payload = (keyStart + 32)..<(keyStart + n)
            start += RelayFrame.headerLength + n
            buffer.withUnsafeMutableBytes { raw in
                // Loaded as one vector: the generic `PublicKey(rawBytes:)` allocates per byte
                // when called from another module.
                let source = PublicKey(bytes: raw.loadUnaligned(fromByteOffset: keyStart, as: SIMD32<UInt8>.self))
                deliver(source, UnsafeMutableRawBufferPointer(rebasing: raw[payload]))
            }
        }
        return try next()
    }
}
