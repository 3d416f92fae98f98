import MeshBase
import CheckedArithmetic

/// Why the filter refused a packet; counted per reason.
public enum FilterDropReason: String, Sendable, CaseIterable {
    /// No rule allows the new flow.
    case acl
    /// Part of no flow we know (a TCP segment without SYN, an echo reply, an ICMP error), and
    /// not something the rules would let the peer start.
    case noFlow
    /// A flow the current rules no longer allow (cut when the rules changed).
    case flowCut
    /// Not a well-formed IP packet.
    case malformed
}

public enum FilterDecision: Equatable, Sendable {
    case accept
    case drop(FilterDropReason)
    /// Drop, and write `reply` (an IP packet: TCP RST or ICMP administratively prohibited)
    /// back towards the sender.
    case dropAndReject(FilterDropReason, reply: [UInt8])

    public var accepts: Bool { self == .accept }
}

/// The receiving node's stateful filter, as a pure state machine: packets and the time come
/// in, decisions go out. meshd runs it on the data plane just before a decrypted packet is
/// written to the TUN (`inbound`) and on every packet read from the TUN (`outbound`, which
/// opens flows so that replies to our own connections pass); it holds the filter under the
/// data plane's lock and calls `setRules` when a netmap brings new rules.
///
/// - No rules (`setRules(nil)`): everything is accepted, as a mesh without a policy does;
///   flows are still tracked so that a policy arriving later can judge them.
/// - With rules: a new TCP connection needs a rule (and a SYN to be tracked); UDP, ICMP echo
///   and other protocols open flows by rule; replies to flows pass; everything else is
///   dropped. A TCP segment without SYN and without a flow is judged by the rules like a new
///   connection: one the peer may open is not refused for having been forgotten (evicted,
///   or established before this filter started), and one it may not open still is.
/// - When the rules change, every flow a peer opened is checked again and those no longer
///   allowed are cut: their next packet is dropped (TCP is also answered with a RST, so the
///   peer's connection ends at once). Flows we opened are the remote side's to judge.
/// - Later IP fragments carry no ports and pass (the first fragment was judged; without it
///   the host cannot reassemble), as in Tailscale.
///
/// Cost on the accept path: the header parse, one hash probe and an LRU move; no allocation.
/// A new flow also scans the rules (each a bit test, ≤2 address compares, two binary
/// searches). Only rejects allocate (their reply bytes), and they are rate-limited.
///
/// The filter trusts the packet's source address: the data plane has already checked it
/// against the sending peer's allowed addresses (WireGuard's cryptokey routing).
public struct PacketFilter: Sendable {
    public struct Configuration: Sendable {
        /// Flows peers open and flows we open are bounded separately (see `FlowTable`), so a
        /// peer filling its share cannot evict our own connections.
        public var maxInboundFlows: Int
        public var maxOutboundFlows: Int
        /// Keys the flow table's hash; meshd passes random bytes, so a peer cannot choose
        /// source ports that collide (the filter itself takes no randomness).
        public var hashSeed: UInt64
        public var tcpIdle: Duration
        /// After FIN or RST.
        public var tcpClosingIdle: Duration
        public var udpIdle: Duration
        public var icmpIdle: Duration
        public var otherIdle: Duration
        /// Refused TCP connections are answered with a RST (true) or ICMP prohibited (false).
        public var rejectTCPWithReset: Bool
        /// Rejects cost a packet each: at most `rejectBurst` at once, then `rejectsPerSecond`.
        public var rejectsPerSecond: Int
        public var rejectBurst: Int

        /// The TCP idle time outlasts the default TCP keepalive (2 h) so idle sessions survive;
        /// the table bound, not the timeout, is what limits memory.
        public init(maxInboundFlows: Int = 8_192, maxOutboundFlows: Int = 8_192, hashSeed: UInt64 = 0, tcpIdle: Duration = .seconds(7_500), tcpClosingIdle: Duration = .seconds(60),
                    udpIdle: Duration = .seconds(120), icmpIdle: Duration = .seconds(30), otherIdle: Duration = .seconds(120),
                    rejectTCPWithReset: Bool = true, rejectsPerSecond: Int = 50, rejectBurst: Int = 50) {
            self.maxInboundFlows = maxInboundFlows
            self.maxOutboundFlows = maxOutboundFlows
            self.hashSeed = hashSeed
            self.tcpIdle = tcpIdle
            self.tcpClosingIdle = tcpClosingIdle
            self.udpIdle = udpIdle
            self.icmpIdle = icmpIdle
            self.otherIdle = otherIdle
            self.rejectTCPWithReset = rejectTCPWithReset
            self.rejectsPerSecond = rejectsPerSecond
            self.rejectBurst = rejectBurst
        }
    }

    public struct Counters: Sendable, Equatable {
        public var accepted: UInt64 = 0
        public var acceptedFragments: UInt64 = 0
        public var dropped: [FilterDropReason: UInt64] { [.acl: acl, .noFlow: noFlow, .flowCut: flowCut, .malformed: malformed] }
        public var acl: UInt64 = 0
        public var noFlow: UInt64 = 0
        public var flowCut: UInt64 = 0
        public var malformed: UInt64 = 0
        public var rejectsSent: UInt64 = 0
        /// Rejects not sent because of the reject budget (the packet was still dropped).
        public var rejectsSuppressed: UInt64 = 0
        public var flowsOpened: UInt64 = 0
        public var flowsEvicted: UInt64 = 0
        /// Flows cut by rule changes.
        public var flowsCut: UInt64 = 0

        mutating func count(_ reason: FilterDropReason) {
            switch reason {
            case .acl: acl &+= 1
            case .noFlow: noFlow &+= 1
            case .flowCut: flowCut &+= 1
            case .malformed: malformed &+= 1
            }
        }
    }

    public let configuration: Configuration
    public private(set) var counters = Counters()
    public private(set) var rules: [FilterRule]?
    var flows: FlowTable
    var rejectBudget: RejectBudget

    public init(configuration: Configuration = Configuration(), rules: [FilterRule]? = nil) {
        self.configuration = configuration
        self.rules = rules
        rejectBudget = RejectBudget(perSecond: configuration.rejectsPerSecond, burst: configuration.rejectBurst)
        flows = FlowTable(inboundCapacity: configuration.maxInboundFlows, outboundCapacity: configuration.maxOutboundFlows,
                          seed: configuration.hashSeed)
    }

    public var flowCount: Int { flows.count }

    /// Installs new rules (nil: allow all) and re-judges every flow a peer opened: those the
    /// new rules refuse are cut, cut ones they allow again are restored.
    public mutating func setRules(_ newRules: [FilterRule]?) {
        rules = newRules
        var cut: [Int32] = [], restored: [Int32] = []
        flows.forEachIndex(inbound: true) { e in
            let state = flows.states[Int(e)]
            let key = flows.key(e)
            let allowed = allowsNew(source: key.remote, destination: key.local, proto: key.proto, port: key.localPort)
            if !allowed && !state.cut { cut.append(e) }
            if allowed && state.cut { restored.append(e) }
        }
        for e in cut { flows.update(e) { $0.cut = true } }
        for e in restored { flows.update(e) { $0.cut = false } }
        counters.flowsCut &+= UInt64(cut.count)
    }

    // MARK: inbound

    /// Judges a decrypted packet from a peer before it is written to the TUN.
    public mutating func inbound(_ packet: UnsafeRawBufferPointer, now: MonotonicTime) -> FilterDecision {
        guard let h = PacketHeaders.parse(packet) else {
            counters.malformed &+= 1
            return .drop(.malformed)
        }
        return inbound(h, packet: packet, now: now)
    }

    /// The same for an already parsed packet (`packet` is needed only to quote it in an ICMP
    /// reject).
    public mutating func inbound(_ h: PacketHeaders, packet: UnsafeRawBufferPointer, now: MonotonicTime) -> FilterDecision {
        if h.isLaterFragment {
            counters.acceptedFragments &+= 1
            return .accept
        }
        let decision: FilterDecision
        switch h.proto {
        case IPProtocolNumber.tcp: decision = inboundTCP(h, packet: packet, now: now)
        case IPProtocolNumber.icmp where !h.isV6, IPProtocolNumber.icmpv6 where h.isV6: decision = inboundICMP(h, packet: packet, now: now)
        default: decision = inboundDatagram(h, packet: packet, now: now)
        }
        if case .accept = decision { counters.accepted &+= 1 }
        return decision
    }

    mutating func inboundTCP(_ h: PacketHeaders, packet: UnsafeRawBufferPointer, now: MonotonicTime) -> FilterDecision {
        let key = FlowKey(remote: h.source, local: h.destination, remotePort: h.sourcePort, localPort: h.destinationPort,
                          proto: h.proto)
        let isReset = h.tcpFlags & PacketHeaders.tcpRST != 0
        let e = liveFlow(key, now: now)
        if e >= 0 {
            flows.touch(e, now: now)
            if flows.states[Int(e)].cut {
                // A RST is never answered; anything else is, so the peer's socket ends now.
                return isReset ? refuse(.flowCut) : refuse(.flowCut, h, now: now, reply: RejectPacket.tcpReset(for: h))
            }
            if h.tcpFlags & (PacketHeaders.tcpFIN | PacketHeaders.tcpRST) != 0 { flows.update(e) { $0.closing = true } }
            return .accept
        }
        let allowed = allowsNew(source: h.source, destination: h.destination, proto: h.proto, port: h.destinationPort)
        if h.isTCPOpen {
            if allowed {
                open(key, inbound: true, now: now)
                return .accept
            }
            let withReset = configuration.rejectTCPWithReset
            return refuse(.acl, h, now: now, reply: withReset
                          ? RejectPacket.tcpReset(for: h) : RejectPacket.icmpProhibited(for: h, packet: packet))
        }
        if allowed {
            // Allowed as a connection from the peer: track it again (not in allow-all mode,
            // where nothing needs judging, nor for a RST, which ends it).
            if rules != nil && !isReset { open(key, inbound: true, now: now) }
            return .accept
        }
        return isReset ? refuse(.noFlow) : refuse(.noFlow, h, now: now, reply: RejectPacket.tcpReset(for: h))
    }

    /// UDP, SCTP and protocols without ports: a flow, or a rule that opens one.
    mutating func inboundDatagram(_ h: PacketHeaders, packet: UnsafeRawBufferPointer, now: MonotonicTime) -> FilterDecision {
        let key = FlowKey(remote: h.source, local: h.destination, remotePort: h.sourcePort, localPort: h.destinationPort,
                          proto: h.proto)
        let e = liveFlow(key, now: now)
        if e >= 0 {
            flows.touch(e, now: now)
            if flows.states[Int(e)].cut { return refuse(.flowCut, h, now: now, reply: RejectPacket.icmpProhibited(for: h, packet: packet)) }
            return .accept
        }
        if allowsNew(source: h.source, destination: h.destination, proto: h.proto, port: h.destinationPort) {
            open(key, inbound: true, now: now)
            return .accept
        }
        return refuse(.acl, h, now: now, reply: RejectPacket.icmpProhibited(for: h, packet: packet))
    }

    mutating func inboundICMP(_ h: PacketHeaders, packet: UnsafeRawBufferPointer, now: MonotonicTime) -> FilterDecision {
        if h.isEchoRequest || h.isEchoReply {
            let key = FlowKey(remote: h.source, local: h.destination, remotePort: 0, localPort: h.sourcePort, proto: h.proto)
            let e = liveFlow(key, now: now)
            // A flow answers only its own direction: replies to our requests, requests of the
            // peer's session (a peer reusing our identifier gains nothing).
            if e >= 0 && flows.states[Int(e)].inbound == h.isEchoRequest {
                flows.touch(e, now: now)
                return flows.states[Int(e)].cut ? refuse(.flowCut) : .accept
            }
            if h.isEchoReply { return rules == nil ? .accept : refuse(.noFlow) }
            if allowsNew(source: h.source, destination: h.destination, proto: h.proto, port: 0) {
                if e < 0 { open(key, inbound: true, now: now) }
                return .accept
            }
            return refuse(.acl, h, now: now, reply: RejectPacket.icmpProhibited(for: h, packet: packet))
        }
        if h.isICMPError {
            // About a packet we sent: its flow (either side may have opened it) must exist.
            if rules == nil { return .accept }
            guard let q = h.quoted, q.source == h.destination else { return refuse(.noFlow) }
            let key = q.proto == h.proto
                ? FlowKey(remote: q.destination, local: q.source, remotePort: 0, localPort: q.sourcePort, proto: q.proto)
                : FlowKey(remote: q.destination, local: q.source, remotePort: q.destinationPort, localPort: q.sourcePort, proto: q.proto)
            let e = liveFlow(key, now: now)
            return e >= 0 && !flows.states[Int(e)].cut ? .accept : refuse(.noFlow)
        }
        // Other ICMP (router and neighbour messages, timestamps): by rule, never answered.
        return allowsNew(source: h.source, destination: h.destination, proto: h.proto, port: 0) ? .accept : refuse(.acl)
    }

    // MARK: outbound

    /// Notes a packet this node sends (read from the TUN): a connection we open, a datagram or
    /// an echo request opens a flow so the replies pass. Outbound packets are never refused.
    public mutating func outbound(_ packet: UnsafeRawBufferPointer, now: MonotonicTime) {
        guard let h = PacketHeaders.parse(packet) else { return }
        outbound(h, now: now)
    }

    public mutating func outbound(_ h: PacketHeaders, now: MonotonicTime) {
        if h.isLaterFragment { return }
        let key: FlowKey
        let opens: Bool
        switch h.proto {
        case IPProtocolNumber.tcp:
            key = FlowKey(remote: h.destination, local: h.source, remotePort: h.destinationPort, localPort: h.sourcePort, proto: h.proto)
            opens = h.isTCPOpen
        case IPProtocolNumber.icmp where !h.isV6, IPProtocolNumber.icmpv6 where h.isV6:
            guard h.isEchoRequest || h.isEchoReply else { return }
            key = FlowKey(remote: h.destination, local: h.source, remotePort: 0, localPort: h.sourcePort, proto: h.proto)
            opens = h.isEchoRequest
        default:
            key = FlowKey(remote: h.destination, local: h.source, remotePort: h.destinationPort, localPort: h.sourcePort, proto: h.proto)
            opens = true
        }
        let e = liveFlow(key, now: now)
        if e >= 0 {
            let state = flows.states[Int(e)]
            if state.cut && h.isTCPOpen {
                // A new connection of ours on the same ports: ours to open, not the peer's.
                flows.remove(e)
                open(key, inbound: false, now: now)
                return
            } else if !state.cut && h.proto == IPProtocolNumber.tcp && h.tcpFlags & (PacketHeaders.tcpFIN | PacketHeaders.tcpRST) != 0 {
                flows.update(e) { $0.closing = true }
            }
            // A cut flow stays cut (our replies must not reopen it), and stays remembered while used.
            flows.touch(e, now: now)
            return
        }
        if opens { open(key, inbound: false, now: now) }
    }

    // MARK: pieces

    /// The flow's index if it exists and has not aged out (an aged-out flow is removed).
    @inline(__always)
    mutating func liveFlow(_ key: FlowKey, now: MonotonicTime) -> Int32 {
        let e = flows.find(key)
        guard e >= 0 else { return -1 }
        let state = flows.states[Int(e)]
        if now - state.lastSeen > idleLimit(proto: key.proto, closing: state.closing) {
            flows.remove(e)
            return -1
        }
        return e
    }

    func idleLimit(proto: UInt8, closing: Bool) -> Duration {
        switch proto {
        case IPProtocolNumber.tcp: return closing ? configuration.tcpClosingIdle : configuration.tcpIdle
        case IPProtocolNumber.udp: return configuration.udpIdle
        case IPProtocolNumber.icmp, IPProtocolNumber.icmpv6: return configuration.icmpIdle
        default: return configuration.otherIdle
        }
    }

    mutating func open(_ key: FlowKey, inbound: Bool, now: MonotonicTime) {
        let (_, evicted) = flows.insert(key, FlowState(lastSeen: now, inbound: inbound, cut: false, closing: false))
        counters.flowsOpened &+= 1
        if evicted { counters.flowsEvicted &+= 1 }
    }

    @inline(__always)
    func allowsNew(source: IPAddress, destination: IPAddress, proto: UInt8, port: UInt16) -> Bool {
        guard let rules else { return true }
        for rule in rules where rule.allows(source: source, destination: destination, proto: proto, port: port) { return true }
        return false
    }

    mutating func refuse(_ reason: FilterDropReason) -> FilterDecision {
        counters.count(reason)
        return .drop(reason)
    }

    /// A drop with an answer, if the reject budget has room.
    mutating func refuse(_ reason: FilterDropReason, _ h: PacketHeaders, now: MonotonicTime,
                         reply: @autoclosure () -> [UInt8]) -> FilterDecision {
        counters.count(reason)
        guard RejectPacket.mayAnswer(h) else { return .drop(reason) }
        guard rejectBudget.take(now: now) else {
            counters.rejectsSuppressed &+= 1
            return .drop(reason)
        }
        counters.rejectsSent &+= 1
        return .dropAndReject(reason, reply: reply())
    }
}
