import WireGuard

/// Where one encapsulated WireGuard datagram for a peer goes.
public enum SteeringDecision: Sendable {
    case direct(UDPAddress)
    case relay
    /// The direct path is not confirmed yet: send it both ways, the relay guarantees delivery.
    case both(UDPAddress)
    case drop
}

/// The hook through which mesh mode (disco path selection, the relay, STUN) plugs into the data
/// plane. Standalone mode has none, and then every datagram goes to the peer's WireGuard
/// endpoint exactly as plain WireGuard does. Calls come from the data plane threads and must
/// be quick and thread-safe.
public protocol OverlaySteering: AnyObject, Sendable {
    /// Path for a WireGuard datagram to `peer`; `endpoint` is the peer's configured WireGuard
    /// endpoint, a hint only (nil: none). Peers are told apart by their `Peer` (its node key).
    func steer(peer: Peer, endpoint: UDPAddress?, now: MonotonicTime) -> SteeringDecision
    /// Hands a datagram to the relay for `peer`; false when no relay took it (dropped).
    @discardableResult
    func sendViaRelay(_ datagram: UnsafeRawBufferPointer, to peer: Peer) -> Bool
    /// A datagram on the shared socket that is not WireGuard (STUN answers, disco messages).
    func receive(_ datagram: UnsafeRawBufferPointer, kind: DatagramKind, from source: UDPAddress, now: MonotonicTime)
    /// An authenticated packet from `peer` arrived from `source` (nil: through the relay).
    func noteReceived(from peer: Peer, source: UDPAddress?, now: MonotonicTime)
}
