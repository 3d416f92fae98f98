import MeshBase

/// Answers, written back into the TUN, for packets this node reads from it but cannot send:
/// their destination is inside the overlay, yet no peer in our netmap has it (the policy hides
/// that peer from us, or there is no such node). Without an answer the packet is dropped in
/// silence and the user's connect hangs until its timeout; with ICMP destination unreachable
/// the host's stack fails it at once ("No route to host").
///
/// - Only destinations inside the overlay prefixes are answered: anything else the TUN
///   carries is not ours to declare unreachable.
/// - Administratively prohibited for the addresses of peers the policy hides from us (the
///   netmap's hidden peers, `setHiddenAddresses`), host unreachable for anything else in the
///   overlay: there we cannot tell a peer we never knew from one that does not exist.
/// - Answered: a TCP SYN (a segment of an established connection is not: the connection's end
///   is the stack's to decide), UDP and other protocols, ICMP echo requests; never an ICMP
///   error or another ICMP message (RFC 1122 3.2.2), a later fragment, or a packet from or to a
///   multicast, broadcast, unspecified or loopback address.
/// - At most `burst` answers at once, then `perSecond`: a local flood to an absent address
///   costs a parse and a prefix compare per packet, not a packet built and written each.
///
/// Pure: the data plane's TUN thread owns it (behind a lock the control path takes to set the
/// prefixes) and passes the time.
public struct NoRouteReplies: Sendable {
    public private(set) var overlayPrefixes: [IPPrefix] = []
    /// Overlay addresses of peers the policy hides from us; at most `maxHiddenAddresses`.
    public private(set) var hiddenAddresses: Set<IPAddress> = []
    public static let maxHiddenAddresses = 1_024
    var budget: RejectBudget
    public private(set) var sent: UInt64 = 0
    /// Answers not sent because the budget was empty.
    public private(set) var suppressed: UInt64 = 0

    public init(perSecond: Int = 50, burst: Int = 50) {
        budget = RejectBudget(perSecond: perSecond, burst: burst)
    }

    /// The overlay's prefixes (masked on the way in); empty: nothing is answered.
    public mutating func setOverlayPrefixes(_ prefixes: [IPPrefix]) {
        overlayPrefixes = prefixes.map(\.masked)
    }

    /// The addresses of the peers the policy hides from us (beyond `maxHiddenAddresses`, the
    /// rest are answered as host unreachable).
    public mutating func setHiddenAddresses(_ addresses: [IPAddress]) {
        hiddenAddresses = Set(addresses.prefix(Self.maxHiddenAddresses))
    }

    /// The ICMP packet to write into the TUN for `packet` (read from it, with no peer to send
    /// it to), or nil when it gets no answer.
    public mutating func reply(to packet: UnsafeRawBufferPointer, now: MonotonicTime) -> [UInt8]? {
        guard !overlayPrefixes.isEmpty, let h = PacketHeaders.parse(packet), !h.isLaterFragment,
              overlayPrefixes.contains(where: { $0.contains(h.destination) }),
              Self.deservesAnswer(h), RejectPacket.mayAnswer(h) else { return nil }
        guard budget.take(now: now) else {
            suppressed &+= 1
            return nil
        }
        sent &+= 1
        let kind: RejectPacket.Unreachable = hiddenAddresses.contains(h.destination) ? .administrativelyProhibited : .hostUnreachable
        return RejectPacket.icmpUnreachable(kind, for: h, packet: packet)
    }

    static func deservesAnswer(_ h: PacketHeaders) -> Bool {
        switch h.proto {
        case IPProtocolNumber.tcp: return h.isTCPOpen
        case IPProtocolNumber.icmp where !h.isV6, IPProtocolNumber.icmpv6 where h.isV6: return h.isEchoRequest
        default: return true
        }
    }
}
