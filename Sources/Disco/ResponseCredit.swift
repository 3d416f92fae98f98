/// What a peer's disco traffic has paid for: every authenticated disco byte from the peer
/// earns a byte, and everything the node sends because of that peer's messages (Pongs, Pings
/// back, Pings to addresses only the peer named) spends its size. So whatever a peer — or
/// someone replaying its packets — sends, the node never answers with more bytes than came in.
/// The balance is capped, so credit saved while quiet cannot fund a burst later.
public struct ResponseCredit: Sendable, Equatable {
    public let cap: Int
    public private(set) var balance = 0

    public init(cap: Int) { self.cap = max(0, cap) }

    public mutating func earn(_ bytes: Int) {
        let b = max(0, bytes)
        balance = b >= cap - balance ? cap : balance + b
    }

    /// Spends `bytes` if the balance covers them; otherwise spends nothing.
    public mutating func spend(_ bytes: Int) -> Bool {
        guard bytes >= 0, bytes <= balance else { return false }
        balance -= bytes
        return true
    }
}
