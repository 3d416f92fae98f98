import MeshBase

/// The budgets that bound what disco traffic can make a node do. A peer's key gets it past
/// the first check only; after that every message costs it tokens, and anything the node sends
/// in answer is either smaller than what came in or paid for by the sender's padding.
public struct DiscoLimits: Sendable {
    /// Disco datagrams accepted per source address (UDP source, or relaying node) before opening.
    public var perSourceBurst = 32
    public var perSourceInterval: Duration = .milliseconds(50)
    /// Pongs sent per peer: a Pong goes only to the Ping's source, and no faster than this.
    public var pongBurst = 8
    public var pongInterval: Duration = .milliseconds(250)
    /// CallMeMaybes handled per peer: a peer sends one per discovery round (5 s apart), and each
    /// may replace the candidates it offered, so more would only let it name more addresses.
    public var callMeMaybeBurst = 1
    public var callMeMaybeInterval: Duration = .seconds(4)
    /// Most bytes of answers a peer's traffic can have paid for at a time (see `ResponseCredit`).
    public var creditCap = 8192
    /// Buckets of the per-source limiter (fixed memory).
    public var sourceSlots = 1024

    public init() {}
    public static let standard = DiscoLimits()

    /// Sealed size of a Pong.
    public static let pongLength = DiscoPacket.sealedLength(of: .pong(txid: DiscoTransactionID(bytes: (0, 0)), source: UDPAddress(ip: SIMD16<UInt8>(), port: 0)))
    /// Sealed size of a Ping without padding.
    public static let plainPingLength = DiscoPacket.overhead + 2 + 12 + 32
    /// Padding on the Pings that look for a new path: it pays for the Pong plus the Ping back
    /// the receiver sends, so a Ping never makes a node send more than it received.
    public static let pingBackPadding = pongLength
    /// A Ping may be answered with a Pong and a Ping back only if it was at least this large;
    /// a smaller one gets the Pong alone (always smaller than any Ping).
    public static let pingBackCost = pongLength + plainPingLength
}
