import Logging
import MeshWire
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The coordinator's STUN server (RFC 8489 Binding, RFC 5780 behaviour discovery) on two UDP
/// ports, 3478 and 3479 by default, so a node can tell how its NAT maps and filters.
///
/// - A Binding request is answered with XOR-MAPPED-ADDRESS, SOFTWARE "meshcoord",
///   RESPONSE-ORIGIN (the address the answer leaves from), OTHER-ADDRESS (the same IP with the
///   other port) and FINGERPRINT.
/// - CHANGE-REQUEST with the change-port flag: the answer leaves from the *other* port's socket,
///   and RESPONSE-ORIGIN says so. That is how a node tests whether its NAT filters by port.
/// - CHANGE-REQUEST with the change-IP flag: this server has one IP, so it answers with error
///   420 (Unknown Attribute, UNKNOWN-ATTRIBUTES = CHANGE-REQUEST) as RFC 5780 section 6.1 asks
///   of a server without an alternate address, rather than pretend.
/// - Other unknown attributes in a request are ignored (ICE clients send PRIORITY and friends).
/// - Anything else is dropped and counted, never answered: datagrams that are not STUN, that do
///   not decode (bad length, bad FINGERPRINT...), that are not requests, or that are requests of
///   another method; and answers when the socket is not writable (never queue without bound).
///
/// A wildcard host (0.0.0.0 or ::) means both families: each port is one dual-stack socket on
/// [::] (IPV6_V6ONLY off; IPv4 clients appear as IPv4-mapped addresses and are answered as
/// IPv4), or a plain 0.0.0.0 socket on a host without IPv6. One socket per port rather than
/// one per family keeps the change-port answer simple: the other port's socket answers either
/// family. RESPONSE-ORIGIN then uses the destination address of the request (IPV6_PKTINFO);
/// the kernel picks the source address of the answer, which is the same on a host with one
/// address per family.
public final class STUNServer: Service, Sendable {
    public struct Configuration: Sendable {
        public var host: String
        /// 0 means an ephemeral port; `start()` reports the real ones.
        public var port1: Int
        public var port2: Int
        public var software: String

        public init(host: String = "0.0.0.0", port1: Int = 3478, port2: Int = 3479, software: String = "meshcoord") {
            self.host = host
            self.port1 = port1
            self.port2 = port2
            self.software = software
        }
    }

    /// What the server did with the datagrams it received.
    public struct Counters: Sendable, Equatable, CustomStringConvertible {
        public var answered = 0
        /// Of `answered`: sent from the other port for CHANGE-REQUEST(change port).
        public var answeredFromOtherPort = 0
        /// Error responses (420 for change IP).
        public var errorResponses = 0
        /// Did not look like STUN at all (DESIGN.md section 3 test).
        public var droppedNotSTUN = 0
        /// Looked like STUN but did not decode.
        public var droppedMalformed = 0
        /// Decoded, but not a Binding request (responses, indications, other methods).
        public var droppedNotBindingRequest = 0
        /// The answering socket was not writable.
        public var droppedUnwritable = 0

        public var dropped: Int { droppedNotSTUN + droppedMalformed + droppedNotBindingRequest + droppedUnwritable }

        public var description: String {
            "answered \(answered) (other port \(answeredFromOtherPort), errors \(errorResponses)), dropped: "
                + "not STUN \(droppedNotSTUN), malformed \(droppedMalformed), "
                + "not a Binding request \(droppedNotBindingRequest), unwritable \(droppedUnwritable)"
        }
    }

    public enum StartError: Error, CustomStringConvertible {
        case samePorts(Int)
        case alreadyStarted

        public var description: String {
            switch self {
            case .samePorts(let p): return "STUN server: both ports are \(p); they must differ"
            case .alreadyStarted: return "STUN server: already started"
            }
        }
    }

    public let configuration: Configuration
    private let group: any EventLoopGroup
    private let logger: Logger
    private let state = Mutex<State>(.idle)
    let counterCells = CounterCells()

    private enum State {
        case idle
        case starting
        case running(channels: [any Channel], ports: (Int, Int))
        case stopped
    }

    public init(configuration: Configuration = Configuration(),
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                logger: Logger = Logger(label: "meshcoord.stun")) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
    }

    public var counters: Counters { counterCells.snapshot() }

    /// The bound ports once `start()` has returned, else nil.
    public var ports: (Int, Int)? {
        state.withLock { state in
            if case .running(_, let ports) = state { return ports }
            return nil
        }
    }

    /// Binds both sockets and starts answering; returns the actual ports.
    @discardableResult
    public func start() async throws -> (Int, Int) {
        let (c1, c2) = (configuration.port1, configuration.port2)
        if c1 != 0, c1 == c2 { throw StartError.samePorts(c1) }
        try state.withLock { state in
            guard case .idle = state else { throw StartError.alreadyStarted }
            state = .starting
        }
        let peers = PeerChannels()
        var channels: [any Channel] = []
        do {
            for (index, port) in [c1, c2].enumerated() {
                channels.append(try await bind(port: port, index: index, peers: peers))
            }
        } catch {
            for channel in channels { try? await channel.close() }
            state.withLock { $0 = .idle }
            throw error
        }
        peers.set(channels)
        let ports = (channels[0].localAddress?.port ?? 0, channels[1].localAddress?.port ?? 0)
        state.withLock { $0 = .running(channels: channels, ports: ports) }
        logger.info("STUN listening", metadata: ["host": "\(configuration.host)", "ports": "\(ports.0),\(ports.1)"])
        return ports
    }

    /// Closes both sockets. Safe to call more than once.
    public func stop() async {
        let channels: [any Channel] = state.withLock { state in
            defer { state = .stopped }
            if case .running(let channels, _) = state { return channels }
            return []
        }
        for channel in channels { try? await channel.close() }
        if !channels.isEmpty { logger.info("STUN stopped", metadata: ["counters": "\(counters)"]) }
    }

    /// `Service`: starts (unless already started), runs until graceful shutdown or
    /// cancellation, then stops.
    public func run() async throws {
        if ports == nil { try await start() }
        try? await gracefulShutdown()
        await stop()
    }

    private func bind(port: Int, index: Int, peers: PeerChannels) async throws -> any Channel {
        let wildcard = configuration.host == "0.0.0.0" || configuration.host == "::"
        guard wildcard else { return try await bind(host: configuration.host, port: port, index: index, peers: peers) }
        do {
            return try await bind(host: "::", port: port, index: index, peers: peers, dualStack: true)
        } catch {
            // No IPv6 on this host at all (the kernel refuses AF_INET6 sockets): IPv4 alone.
            logger.debug("STUN: no dual-stack socket, IPv4 only", metadata: ["error": "\(error)"])
            return try await bind(host: "0.0.0.0", port: port, index: index, peers: peers)
        }
    }

    private func bind(host: String, port: Int, index: Int, peers: PeerChannels, dualStack: Bool = false) async throws -> any Channel {
        let wildcard = host == "0.0.0.0" || host == "::"
        let software = configuration.software
        let counters = counterCells
        let logger = logger
        // No SO_REUSEADDR: on Linux it would let two UDP sockets share a port silently.
        var bootstrap = DatagramBootstrap(group: group)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 2048))
        if wildcard { bootstrap = bootstrap.channelOption(.receivePacketInfo, value: true) }
        if dualStack {
            bootstrap = bootstrap.channelOption(ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only), value: 0)
        }
        return try await bootstrap
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(STUNHandler(
                        index: index, peers: peers, software: software, counters: counters, logger: logger))
                }
            }
            .bind(host: host, port: port)
            .get()
    }
}

/// Both channels, so a handler can answer from the other port. Set once, after both bind;
/// until then a handler sees none and answers change-port requests from its own socket.
final class PeerChannels: Sendable {
    private let channels = Mutex<[any Channel]>([])
    func set(_ c: [any Channel]) { channels.withLock { $0 = c } }
    func channel(_ index: Int) -> (any Channel)? {
        channels.withLock { $0.indices.contains(index) ? $0[index] : nil }
    }
}

final class CounterCells: Sendable {
    let answered = Atomic<Int>(0)
    let answeredFromOtherPort = Atomic<Int>(0)
    let errorResponses = Atomic<Int>(0)
    let droppedNotSTUN = Atomic<Int>(0)
    let droppedMalformed = Atomic<Int>(0)
    let droppedNotBindingRequest = Atomic<Int>(0)
    let droppedUnwritable = Atomic<Int>(0)

    func snapshot() -> STUNServer.Counters {
        var c = STUNServer.Counters()
        c.answered = answered.load(ordering: .relaxed)
        c.answeredFromOtherPort = answeredFromOtherPort.load(ordering: .relaxed)
        c.errorResponses = errorResponses.load(ordering: .relaxed)
        c.droppedNotSTUN = droppedNotSTUN.load(ordering: .relaxed)
        c.droppedMalformed = droppedMalformed.load(ordering: .relaxed)
        c.droppedNotBindingRequest = droppedNotBindingRequest.load(ordering: .relaxed)
        c.droppedUnwritable = droppedUnwritable.load(ordering: .relaxed)
        return c
    }
}

/// Answers one socket's datagrams. Does only bounded CPU work per datagram; never blocks.
final class STUNHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    /// UNKNOWN-ATTRIBUTES (RFC 8489 section 14.9), for the 420 answer to change-IP.
    static let unknownAttributesType: UInt16 = 0x000A

    let index: Int
    let peers: PeerChannels
    let software: String
    let counters: CounterCells
    let logger: Logger

    init(index: Int, peers: PeerChannels, software: String, counters: CounterCells, logger: Logger) {
        self.index = index
        self.peers = peers
        self.software = software
        self.counters = counters
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let bytes = envelope.data.readableBytesView
        guard STUNMessage.looksLikeSTUN(bytes) else {
            counters.droppedNotSTUN.add(1, ordering: .relaxed)
            return
        }
        let request: STUNMessage
        do {
            request = try STUNMessage.decode(bytes)
        } catch {
            counters.droppedMalformed.add(1, ordering: .relaxed)
            logger.trace("STUN: dropped", metadata: ["from": "\(envelope.remoteAddress)", "error": "\(error)"])
            return
        }
        guard request.type == .bindingRequest else {
            counters.droppedNotBindingRequest.add(1, ordering: .relaxed)
            return
        }
        guard let mapped = STUNHandler.stunAddress(envelope.remoteAddress) else {
            counters.droppedMalformed.add(1, ordering: .relaxed)
            return
        }

        let change = request.changeRequest
        let response: STUNMessage
        var outChannel: any Channel = context.channel
        if change?.changeIP == true {
            response = STUNMessage(type: .bindingError, transactionID: request.transactionID, attributes: [
                .errorCode(code: 420, reason: "Unknown Attribute: change IP is not supported, only change port"),
                .unknown(type: STUNHandler.unknownAttributesType, value: [0x00, 0x03]),
                .software(software),
            ])
            counters.errorResponses.add(1, ordering: .relaxed)
        } else {
            if change?.changePort == true, let other = peers.channel(1 - index) { outChannel = other }
            let ownPort = context.channel.localAddress?.port ?? 0
            let otherPort = peers.channel(1 - index)?.localAddress?.port ?? 0
            let responsePort = outChannel === context.channel ? ownPort : otherPort
            // Our IP as the client addressed it: the packet-info destination under a wildcard
            // bind, else the bound address.
            let localIP = (envelope.metadata?.packetInfo?.destinationAddress).flatMap(STUNHandler.stunAddress)?.ip
                ?? context.channel.localAddress.flatMap(STUNHandler.stunAddress)?.ip
            var origin: STUNAddress? = nil
            var other: STUNAddress? = nil
            if let ip = localIP {
                origin = STUNAddress(ip: ip, port: UInt16(truncatingIfNeeded: responsePort))
                other = STUNAddress(ip: ip, port: UInt16(truncatingIfNeeded: responsePort == ownPort ? otherPort : ownPort))
            }
            response = .bindingSuccess(transactionID: request.transactionID, mapped: mapped, software: software,
                                       responseOrigin: origin, otherAddress: other)
            if outChannel !== context.channel { counters.answeredFromOtherPort.add(1, ordering: .relaxed) }
        }

        guard outChannel.isWritable else {
            counters.droppedUnwritable.add(1, ordering: .relaxed)
            return
        }
        let encoded = response.encode(fingerprint: true)
        var buffer = outChannel.allocator.buffer(capacity: encoded.count)
        buffer.writeBytes(encoded)
        let reply = AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: buffer)
        counters.answered.add(1, ordering: .relaxed)
        if outChannel === context.channel {
            context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
        } else {
            outChannel.writeAndFlush(reply, promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A UDP socket reports e.g. ICMP port unreachable from an earlier answer as an error
        // on a later read; nothing to do but carry on.
        logger.debug("STUN socket error", metadata: ["error": "\(error)"])
    }

    /// A socket address as STUN sees it; IPv4-mapped IPv6 addresses become plain IPv4.
    static func stunAddress(_ address: SocketAddress) -> STUNAddress? {
        switch address {
        case .v4(let a):
            var sin = a.address
            let ip = withUnsafeBytes(of: &sin.sin_addr) { Array($0) }
            return STUNAddress(ip: ip, port: UInt16(bigEndian: sin.sin_port))
        case .v6(let a):
            var sin6 = a.address
            let ip = withUnsafeBytes(of: &sin6.sin6_addr) { Array($0) }
            let port = UInt16(bigEndian: sin6.sin6_port)
            if ip[0..<10].allSatisfy({ $0 == 0 }), ip[10] == 0xFF, ip[11] == 0xFF {
                return STUNAddress(ip: ip[12...], port: port)
            }
            return STUNAddress(ip: ip, port: port)
        case .unixDomainSocket:
            return nil
        }
    }
}
