import MeshCrypto
import MeshBase

/// A 12-byte transaction id that pairs a Pong with the Ping it answers.
public struct DiscoTransactionID: Hashable, Sendable {
    public var bytes: (UInt64, UInt32)
    public init(bytes: (UInt64, UInt32)) { self.bytes = bytes }
    public init(using entropy: inout some EntropySource) {
        var a: UInt64 = 0, b: UInt32 = 0
        withUnsafeMutableBytes(of: &a) { entropy.fill($0) }
        withUnsafeMutableBytes(of: &b) { entropy.fill($0) }
        bytes = (a, b)
    }
    public static func == (l: Self, r: Self) -> Bool { l.bytes.0 == r.bytes.0 && l.bytes.1 == r.bytes.1 }
    public func hash(into h: inout Hasher) { h.combine(bytes.0); h.combine(bytes.1) }

    var encoded: [UInt8] {
        var a = bytes.0.littleEndian, b = bytes.1.littleEndian
        return withUnsafeBytes(of: &a) { Array($0) } + withUnsafeBytes(of: &b) { Array($0) }
    }

    init(encoded e: ArraySlice<UInt8>) {
        var a: UInt64 = 0, b: UInt32 = 0
        let s = e.startIndex
        for i in 0..<8 { a |= UInt64(e[s + i]) << (8 * UInt64(i)) }
        for i in 0..<4 { b |= UInt32(e[s + 8 + i]) << (8 * UInt32(i)) }
        bytes = (a, b)
    }
}

/// The three disco messages of DESIGN.md section 5, as plain values (the body inside the box).
public enum DiscoMessage: Equatable, Sendable {
    /// Asks the receiver to answer with a Pong; `padding` zero bytes probe the path MTU.
    case ping(txid: DiscoTransactionID, nodeKey: PublicKey, padding: Int)
    /// Answers a Ping and tells the pinger the address its packet came from.
    case pong(txid: DiscoTransactionID, source: UDPAddress)
    /// Sent over the relay: "ping me at these endpoints now", so both NATs open at once.
    case callMeMaybe(endpoints: [UDPAddress])

    static let version: UInt8 = 0
    public static let maxCallMeMaybeEndpoints = 64

    enum TypeCode: UInt8 { case ping = 1, pong = 2, callMeMaybe = 3 }

    /// type | version | body
    public var encoded: [UInt8] {
        switch self {
        case .ping(let txid, let key, let padding):
            return [TypeCode.ping.rawValue, Self.version] + txid.encoded + key.rawBytes
                + [UInt8](repeating: 0, count: max(0, padding))
        case .pong(let txid, let source):
            return [TypeCode.pong.rawValue, Self.version] + txid.encoded + Self.encode(source)
        case .callMeMaybe(let endpoints):
            return [TypeCode.callMeMaybe.rawValue, Self.version]
                + endpoints.prefix(Self.maxCallMeMaybeEndpoints).flatMap(Self.encode)
        }
    }

    /// `encoded.count`, without building the bytes.
    public var encodedLength: Int {
        switch self {
        case .ping(_, _, let padding): return 2 + 12 + 32 + max(0, padding)
        case .pong: return 2 + 12 + 18
        case .callMeMaybe(let endpoints): return 2 + 18 * min(endpoints.count, Self.maxCallMeMaybeEndpoints)
        }
    }

    public static func decode(_ bytes: [UInt8]) throws(DiscoError) -> DiscoMessage {
        guard bytes.count >= 2 else { throw .truncated }
        guard let type = TypeCode(rawValue: bytes[0]) else { throw .unknownType(bytes[0]) }
        // Newer versions may append fields; what we know how to read stays where it is.
        let body = bytes[2...]
        switch type {
        case .ping:
            guard body.count >= 44 else { throw .truncated }
            let txid = DiscoTransactionID(encoded: body.prefix(12))
            let key = try! PublicKey(rawBytes: body.dropFirst(12).prefix(32))
            return .ping(txid: txid, nodeKey: key, padding: body.count - 44)
        case .pong:
            guard body.count >= 30 else { throw .truncated }
            return .pong(txid: DiscoTransactionID(encoded: body.prefix(12)), source: decodeAddress(body.dropFirst(12).prefix(18)))
        case .callMeMaybe:
            guard body.count % 18 == 0 else { throw .truncated }
            guard body.count / 18 <= maxCallMeMaybeEndpoints else { throw .tooManyEndpoints }
            var out: [UDPAddress] = []
            var i = body.startIndex
            while i < body.endIndex {
                out.append(decodeAddress(body[i..<i + 18]))
                i += 18
            }
            return .callMeMaybe(endpoints: out)
        }
    }

    /// 16-byte IPv6 (IPv4 mapped) address followed by a big-endian port.
    static func encode(_ a: UDPAddress) -> [UInt8] {
        a.ipBytes + [UInt8(a.port >> 8), UInt8(a.port & 0xff)]
    }

    static func decodeAddress(_ b: ArraySlice<UInt8>) -> UDPAddress {
        var ip = SIMD16<UInt8>()
        let s = b.startIndex
        for i in 0..<16 { ip[i] = b[s + i] }
        return UDPAddress(ip: ip, port: UInt16(b[s + 16]) << 8 | UInt16(b[s + 17]))
    }
}

extension UDPAddress {
    var ipBytes: [UInt8] { (0..<16).map { ip[$0] } }
}

public enum DiscoError: Error, Equatable, Sendable, CustomStringConvertible {
    case notDisco
    case truncated
    case unknownType(UInt8)
    case tooManyEndpoints
    case cannotOpen

    public var description: String {
        switch self {
        case .notDisco: return "not a disco message (bad magic)"
        case .truncated: return "disco message truncated"
        case .unknownType(let t): return "unknown disco message type \(t)"
        case .tooManyEndpoints: return "CallMeMaybe lists too many endpoints"
        case .cannotOpen: return "disco box does not open (wrong key or tampered)"
        }
    }
}
