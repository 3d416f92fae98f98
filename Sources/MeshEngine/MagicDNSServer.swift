#if canImport(Glibc)
import Glibc
#endif
import Logging
import MeshBase
import MeshDNS
import MeshIO
import MeshStatus
import NIOCore
import NIOPosix
import Synchronization

/// MagicDNS on the wire: UDP and TCP port 53 at the DNS addresses (100.100.100.100 and the
/// overlay's `<prefix>:53::53`), which meshd puts on the TUN interface next to its own. A thin
/// driver: the answers come from `MagicDNSResponder`, the forwarding decisions from
/// `DNSForwardTable`, the TCP framing from `DNSTCPFramer`.
///
/// Who can ask: only this host. The listening sockets are bound to the TUN device
/// (SO_BINDTODEVICE): the kernel delivers to them what the host itself sends to a DNS address
/// (its local route carries it with the TUN as input device) and what arrives on the TUN, but
/// never a packet from the underlay (a LAN neighbour routing 100.100.100.100 at us arrives on
/// the LAN interface). Packets from peers through the tunnel never get that far: the data
/// plane writes to the TUN only packets addressed to this node's own overlay addresses
/// (`DataPlane.localDestinations`). So this is no open resolver for peers or the underlay.
///
/// Bounded: `DNSForwardTable`'s in-flight limit and timeout, at most `maxTCPConnections`
/// TCP connections, each closed after `tcpIdleTimeout` without a query, UDP queries read
/// into `maxUDPMessage`-byte buffers.
public final class MagicDNSServer: Sendable {
    public static let defaultIPv4 = "100.100.100.100"
    public static let maxTCPConnections = 32
    public static let tcpIdleTimeout: TimeAmount = .seconds(10)
    public static let maxUDPMessage = 4096
    /// How often waiting forwards are checked for their deadline.
    static let tickInterval: TimeAmount = .milliseconds(200)

    /// What `meshctl status --json` shows under `dns`.
    public struct Counters: Sendable, Equatable {
        /// Queries answered from the netmap and the extra records (including NXDOMAIN, FORMERR).
        public var answered: Int
        /// Queries passed to the host's resolvers, and of those, how many got their answer back.
        public var forwarded: Int
        public var forwardAnswered: Int
        /// SERVFAIL sent: no resolver answered in time, none configured, or too many in flight.
        public var failed: Int
    }

    let addresses: [IPAddress]
    let port: Int
    let interfaceName: String?
    let logger: Logger
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let core: MagicDNSCore
    private let channels = Mutex<[any Channel]>([])
    /// Set by `stop` (under the lock, before the loop shuts down): later table and upstream
    /// changes (a netmap that arrives while the node stops) are dropped, not scheduled on a
    /// loop that is gone.
    private let stopped = Mutex(false)
    /// The UDP and TCP server channel of each address served (for `boundPorts`).
    private let servers = Mutex<[(udp: any Channel, tcp: any Channel)]>([])

    /// `interfaceName`: the TUN device the sockets are bound to (nil only in tests on loopback);
    /// `port` 53 but for tests.
    public init(addresses: [IPAddress], interfaceName: String?, table: MagicDNSTable, upstreams: [DNSUpstream],
                port: Int = 53, logger: Logger) {
        self.addresses = addresses
        self.interfaceName = interfaceName
        self.port = port
        self.logger = logger
        core = MagicDNSCore(loop: group.next(), responder: MagicDNSResponder(table: table),
                            forwards: DNSForwardTable(upstreams: upstreams), logger: logger)
    }

    /// The names to answer from now on (the netmap changed); any thread.
    public func setTable(_ table: MagicDNSTable) {
        onLoop { core in core.responder = MagicDNSResponder(table: table) }
    }

    private func onLoop(_ body: @escaping @Sendable (MagicDNSCore) -> Void) {
        let core = self.core
        stopped.withLock { stopped in
            guard !stopped else { return }
            core.loop.execute { body(core) }
        }
    }

    /// Where to forward from now on. The host's resolvers as they were before meshd touched
    /// anything: when meshd manages resolv.conf, the saved original's (`HostResolvers`), never
    /// the rewritten file that names MagicDNS; any thread.
    public func setUpstreams(_ upstreams: [DNSUpstream]) {
        let own = addresses
        let list = upstreams.filter { !own.contains($0.address) }
        core.upstreamList.withLock { $0 = list }
        onLoop { core in core.forwards.upstreams = list }
    }

    public var counters: Counters { core.counters.snapshot }

    /// For the status: the addresses served, the upstreams, the counters.
    public var status: DNSStatus {
        let c = counters
        let served = servers.withLock { $0.compactMap { $0.udp.localAddress?.ipAddress } }
        let upstreams = core.upstreamList.withLock { $0.map(\.description) }
        return DNSStatus(addresses: served, upstreams: upstreams, answered: c.answered, forwarded: c.forwarded,
                         forwardAnswered: c.forwardAnswered, failed: c.failed)
    }

    /// Binds the forwarder's sockets and UDP and TCP port 53 at each address. An address that
    /// cannot be bound is logged and left out; returns the addresses served.
    @discardableResult
    public func start() -> [IPAddress] {
        let core = self.core
        var opened: [any Channel] = []
        for (family, any) in [(AF_INET, "0.0.0.0"), (AF_INET6, "::")] {
            do {
                // An upstream's answer may be as large as the client's EDNS size allows (the query
                // goes out as the client sent it): read whole datagrams.
                let ch = try DatagramBootstrap(group: group)
                    .channelOption(ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65536))
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(UpstreamHandler(core: core))
                        }
                    }
                    .bind(host: any, port: 0).wait()
                opened.append(ch)
                core.loop.execute { if family == AF_INET { core.upstream4 = ch } else { core.upstream6 = ch } }
            } catch {
                logger.warning("MagicDNS: no \(family == AF_INET ? "IPv4" : "IPv6") socket for forwarding: \(error)")
            }
        }
        var served: [IPAddress] = []
        for address in addresses {
            do {
                let udp = try DatagramBootstrap(group: group)
                    .channelOption(ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: Self.maxUDPMessage))
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(UDPQueryHandler(core: core))
                        }
                    }
                    .withBoundSocket(try boundSocket(address, stream: false)).wait()
                opened.append(udp)
                let tcp = try ServerBootstrap(group: group)
                    .childChannelInitializer { channel in
                        let admitted = core.tcpOpen.withLock { n -> Bool in
                            guard n < Self.maxTCPConnections else { return false }
                            n += 1
                            return true
                        }
                        guard admitted else { return channel.close() }
                        channel.closeFuture.whenComplete { _ in core.tcpOpen.withLock { $0 -= 1 } }
                        return channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: Self.tcpIdleTimeout))
                            try channel.pipeline.syncOperations.addHandler(TCPQueryHandler(core: core))
                        }
                    }
                    .withBoundSocket(try boundSocket(address, stream: true)).wait()
                opened.append(tcp)
                servers.withLock { $0.append((udp, tcp)) }
                served.append(address)
            } catch {
                logger.warning("MagicDNS will not answer at \(address): \(error)")
            }
        }
        channels.withLock { $0 = opened }
        let loop = core.loop
        let tick = loop.scheduleRepeatedTask(initialDelay: Self.tickInterval, delay: Self.tickInterval) { _ in core.tick() }
        core.loop.execute { core.ticker = tick }
        return served
    }

    public func stop() {
        guard !stopped.withLock({ s in defer { s = true }; return s }) else { return }
        let open = channels.withLock { c -> [any Channel] in defer { c = [] }; return c }
        let core = self.core
        try? core.loop.submit { core.ticker?.cancel() }.wait()
        for ch in open { try? ch.close().wait() }
        try? group.syncShutdownGracefully()
    }

    /// A socket for port 53 at `address`, bound to the TUN device so only what the kernel
    /// hands in through it (this host's own queries) reaches it.
    private func boundSocket(_ address: IPAddress, stream: Bool) throws -> NIOBSDSocket.Handle {
        let v4 = address.isV4
        let type = (stream ? Int32(SOCK_STREAM.rawValue) : Int32(SOCK_DGRAM.rawValue)) | Int32(SOCK_CLOEXEC.rawValue)
        let fd = socket(v4 ? AF_INET : AF_INET6, type, 0)
        guard fd >= 0 else { throw SystemError("opening a DNS socket", code: errno) }
        var ok = false
        defer { if !ok { close(fd) } }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if !v4 { _ = setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size)) }
        if let name = interfaceName {
            let bytes = Array(name.utf8)
            let rc = bytes.withUnsafeBufferPointer { setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, $0.baseAddress, socklen_t($0.count)) }
            guard rc == 0 else { throw SystemError("binding the DNS socket to \(name)", code: errno) }
        }
        let socketAddress = try SocketAddress(ipAddress: "\(address)", port: port)
        let rc: Int32 = socketAddress.withSockAddr { bind(fd, $0, socklen_t($1)) }
        guard rc == 0 else { throw SystemError("binding \(stream ? "TCP" : "UDP") \(socketAddress)", code: errno) }
        if stream { guard listen(fd, 16) == 0 else { throw SystemError("listening on \(socketAddress)", code: errno) } }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        ok = true
        return fd
    }

    /// The ports actually bound (tests bind port 0): UDP and TCP of the first address.
    public var boundPorts: (udp: Int, tcp: Int)? {
        guard let first = servers.withLock({ $0.first }), let u = first.udp.localAddress?.port,
              let t = first.tcp.localAddress?.port else { return nil }
        return (u, t)
    }
}

/// Who asked: where the answer goes.
enum DNSClient: Sendable {
    case udp(any Channel, SocketAddress)
    case tcp(any Channel)
}

/// The server's state, touched only on `loop` (every handler and timer runs there).
final class MagicDNSCore: @unchecked Sendable {
    let loop: any EventLoop
    var responder: MagicDNSResponder
    var forwards: DNSForwardTable<DNSClient>
    var entropy = SystemEntropy()
    var upstream4: (any Channel)?
    var upstream6: (any Channel)?
    var ticker: RepeatedTask?
    let logger: Logger
    let counters = AtomicCounters()
    let tcpOpen = Mutex(0)
    /// A copy of `forwards.upstreams` for the status (read off the loop).
    let upstreamList = Mutex<[DNSUpstream]>([])

    final class AtomicCounters: Sendable {
        let answered = Atomic<Int>(0), forwarded = Atomic<Int>(0), forwardAnswered = Atomic<Int>(0), failed = Atomic<Int>(0)
        var snapshot: MagicDNSServer.Counters {
            .init(answered: answered.load(ordering: .relaxed), forwarded: forwarded.load(ordering: .relaxed),
                  forwardAnswered: forwardAnswered.load(ordering: .relaxed), failed: failed.load(ordering: .relaxed))
        }
    }

    init(loop: any EventLoop, responder: MagicDNSResponder, forwards: DNSForwardTable<DNSClient>, logger: Logger) {
        self.loop = loop
        self.responder = responder
        self.forwards = forwards
        self.logger = logger
    }

    func query(_ bytes: [UInt8], from client: DNSClient, overTCP: Bool) {
        switch responder.respond(to: bytes, overTCP: overTCP) {
        case .answer(let answer):
            counters.answered.add(1, ordering: .relaxed)
            reply(answer, to: client)
        case .drop:
            break
        case .forward(let q):
            let (action, outcome) = forwards.forward(bytes, query: q, from: client, overTCP: overTCP,
                                                     now: SystemClock.now(), entropy: &entropy)
            count(outcome)
            perform(action)
        }
    }

    func answer(_ bytes: [UInt8], from source: SocketAddress) {
        guard let upstream = Self.upstream(source), let action = forwards.receive(bytes, from: upstream) else { return }
        counters.forwardAnswered.add(1, ordering: .relaxed)
        perform(action)
    }

    func tick() {
        for (action, outcome) in forwards.expire(now: SystemClock.now(), entropy: &entropy) {
            if outcome == .failedAfterTimeouts { counters.failed.add(1, ordering: .relaxed) }
            perform(action)
        }
    }

    func clientGone(_ channel: any Channel) {
        forwards.removeAll { if case .tcp(let c) = $0 { return c === channel }; return false }
    }

    private func count(_ outcome: DNSForwardTable<DNSClient>.Outcome) {
        switch outcome {
        case .forwarded: counters.forwarded.add(1, ordering: .relaxed)
        case .refusedFull, .noUpstream, .failedAfterTimeouts: counters.failed.add(1, ordering: .relaxed)
        }
    }

    private func perform(_ action: DNSForwardTable<DNSClient>.Action) {
        switch action {
        case .reply(let bytes, let client, _):
            reply(bytes, to: client)
        case .retryOverTCP(let query, let parsed, let upstream, let client):
            retryOverTCP(query, parsed: parsed, to: upstream, client: client)
        case .send(let bytes, let upstream):
            guard let channel = upstream.address.isV4 ? upstream4 : upstream6,
                  let to = try? SocketAddress(ipAddress: "\(upstream.address)", port: Int(upstream.port)) else { return }
            var buffer = channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            channel.writeAndFlush(AddressedEnvelope(remoteAddress: to, data: buffer), promise: nil)
        }
    }

    /// TCP asks to upstreams at once at most (each bounded by `forwards.timeout`); beyond it a
    /// truncated answer's client gets SERVFAIL.
    static let maxTCPRetries = 16
    var tcpRetries = 0

    /// Asks `upstream` over TCP (one query, one answer, then closed; `forwards.timeout` in all).
    private func retryOverTCP(_ query: [UInt8], parsed: DNSQuery, to upstream: DNSUpstream, client: DNSClient) {
        let failure = MagicDNSResponder.serverFailure(for: parsed, overTCP: true)
        guard tcpRetries < Self.maxTCPRetries, let framed = DNSTCPFramer.frame(query),
              let address = try? SocketAddress(ipAddress: "\(upstream.address)", port: Int(upstream.port)) else {
            counters.failed.add(1, ordering: .relaxed)
            reply(failure, to: client)
            return
        }
        tcpRetries += 1
        var finished = false
        let finish: (([UInt8]?) -> Void) = { [self] answer in
            guard !finished else { return }
            finished = true
            tcpRetries -= 1
            if let answer, DNSForwardTable<DNSClient>.isAnswer(answer, to: parsed) {
                reply(answer, to: client)
            } else {
                counters.failed.add(1, ordering: .relaxed)
                reply(failure, to: client)
            }
        }
        let timeout = TimeAmount.nanoseconds(Int64(forwards.timeout.components.seconds) * 1_000_000_000
                                             + Int64(forwards.timeout.components.attoseconds / 1_000_000_000))
        let loop = self.loop
        let bound = NIOLoopBound(finish, eventLoop: loop)
        let deadline = loop.scheduleTask(in: timeout) { bound.value(nil) }
        ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UpstreamTCPHandler { answer in
                        deadline.cancel()
                        bound.value(answer)
                    })
                }
            }
            .connect(to: address)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    var buffer = channel.allocator.buffer(capacity: framed.count)
                    buffer.writeBytes(framed)
                    channel.writeAndFlush(buffer, promise: nil)
                    // Closed when the answer came or the deadline passed, whichever first.
                    loop.scheduleTask(in: timeout) { channel.close(promise: nil) }
                case .failure:
                    deadline.cancel()
                    bound.value(nil)
                }
            }
    }

    private func reply(_ bytes: [UInt8], to client: DNSClient) {
        switch client {
        case .udp(let channel, let address):
            var buffer = channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: buffer), promise: nil)
        case .tcp(let channel):
            guard channel.isActive, let framed = DNSTCPFramer.frame(bytes) else { return }
            var buffer = channel.allocator.buffer(capacity: framed.count)
            buffer.writeBytes(framed)
            channel.writeAndFlush(buffer, promise: nil)
        }
    }

    static func upstream(_ address: SocketAddress) -> DNSUpstream? {
        guard let port = address.port, let port16 = UInt16(exactly: port) else { return nil }
        switch address {
        case .v4(let a):
            guard let ip = IPAddress(networkBytes: withUnsafeBytes(of: a.address.sin_addr) { Array($0) }) else { return nil }
            return DNSUpstream(address: ip, port: port16)
        case .v6(let a):
            guard let ip = IPAddress(networkBytes: withUnsafeBytes(of: a.address.sin6_addr) { Array($0) }) else { return nil }
            return DNSUpstream(address: ip, port: port16)
        default:
            return nil
        }
    }
}

private final class UDPQueryHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let core: MagicDNSCore
    init(core: MagicDNSCore) { self.core = core }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        core.query(Array(envelope.data.readableBytesView), from: .udp(context.channel, envelope.remoteAddress), overTCP: false)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

private final class UpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let core: MagicDNSCore
    init(core: MagicDNSCore) { self.core = core }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        core.answer(Array(envelope.data.readableBytesView), from: envelope.remoteAddress)
    }

    /// An ICMP error for one upstream (port unreachable) must not close the forwarder's socket.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

/// One answer from an upstream over TCP, then the connection is closed.
private final class UpstreamTCPHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private var framer = DNSTCPFramer()
    private var done: (([UInt8]?) -> Void)?
    init(done: @escaping ([UInt8]?) -> Void) { self.done = done }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let answer = framer.append(unwrapInboundIn(data).readableBytesView).first else { return }
        done?(answer)
        done = nil
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        done?(nil)
        done = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}

private final class TCPQueryHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let core: MagicDNSCore
    private var framer = DNSTCPFramer()
    init(core: MagicDNSCore) { self.core = core }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        for message in framer.append(buffer.readableBytesView) {
            core.query(message, from: .tcp(context.channel), overTCP: true)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) } else { context.fireUserInboundEventTriggered(event) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        core.clientGone(context.channel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}
