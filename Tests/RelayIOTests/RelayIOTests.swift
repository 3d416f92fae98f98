import MeshCrypto
import MeshTestSupport
import MeshWire
import NIOCore
import NIOPosix
import Relay
import RelayIO
import Synchronization
import Testing
import WireGuard
import NIOHTTP1

@Suite(.serialized) struct RelayIOTests {
    @Test(arguments: allRelayTransports)
    func twoClientsExchangePacketsThroughARealServer(transport: RelayClient.Configuration.Transport) async throws {
        let lab = try await RelayLab()
        let inA = Inbox(), inB = Inbox()
        let a = lab.client(0, inbox: inA, transport: transport), b = lab.client(1, inbox: inB, transport: transport)
        #expect(await a.waitUntilConnected())
        #expect(await b.waitUntilConnected())
        let hello: [UInt8] = [4, 0, 0, 0] + Array("hello b".utf8)
        #expect(a.send(to: lab.nodes[1].publicKey, packet: hello))
        #expect(b.send(to: lab.nodes[0].publicKey, packet: Array("hello a".utf8)))
        #expect(await eventually { inA.received == 1 && inB.received == 1 })
        #expect(inB.packets.withLock { $0.map(\.0) } == [lab.nodes[0].publicKey])
        #expect(inB.packets.withLock { $0.map(\.1) } == [hello])
        #expect(inA.packets.withLock { $0.map(\.0) } == [lab.nodes[1].publicKey])
        #expect(inA.packets.withLock { $0.map(\.1) } == [Array("hello a".utf8)])
        // A packet for a node that is not here comes back as PeerGone(notHere); keepalives and
        // pings run meanwhile.
        a.send(to: lab.nodes[3].publicKey, packet: [1])
        #expect(await eventually { inA.gone.withLock { $0.count } == 1 })
        #expect(inA.gone.withLock { $0.first?.0 } == lab.nodes[3].publicKey)
        #expect(inA.gone.withLock { $0.first?.1 } == .notHere)
        #expect(lab.service.stats.packetsForwarded == 2)
        // A large packet (several WebSocket-frame-sized relay frames' worth) and a burst, in order.
        let big = (0..<60_000).map { UInt8(truncatingIfNeeded: $0) }
        #expect(a.send(to: lab.nodes[1].publicKey, packet: big))
        let burst: [[UInt8]] = (0..<500).map { (i: Int) -> [UInt8] in [UInt8(i & 0xFF), UInt8(i >> 8)] }
        for p in burst { #expect(a.send(to: lab.nodes[1].publicKey, packet: p)) }
        #expect(await eventually { inA.received == 1 && inB.received == 502 })
        let gotB = inB.packets.withLock { $0 }
        #expect(gotB.allSatisfy { $0.0 == lab.nodes[0].publicKey })
        #expect(gotB.first?.1 == hello)
        #expect(gotB.dropFirst().first?.1 == big)
        let gotBurst: [[UInt8]] = gotB.dropFirst(2).map(\.1)
        #expect(gotBurst == burst)
        #expect(inA.packets.withLock { $0.map(\.1) } == [Array("hello a".utf8)])
        // B leaves: A, which sent to it, is told.
        await b.close()
        #expect(await eventually { inA.gone.withLock { $0.contains { $0.0 == lab.nodes[1].publicKey && $0.1 == .disconnected } } })
        #expect(a.stats.connects == 1)
        await lab.shutdown()
    }

    @Test(arguments: allRelayTransports)
    func aClientThatCannotProveItsNodeKeyIsRefusedAndDisconnected(transport: RelayClient.Configuration.Transport) async throws {
        let lab = try await RelayLab()
        let raw = try openRawRelay(port: lab.server.port, transport: transport)
        if let ws = raw as? RawWebSocket {
            let head = ws.responseHead.lowercased()
            #expect(head.contains("upgrade: websocket"))
            // RFC 6455's sample key → its sample accept value.
            #expect(head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="))
            #expect(head.contains("sec-websocket-protocol: mesh-relay"))
        }
        guard case .serverKey(let sk) = try raw.nextRelayFrame() else { Issue.record("no ServerKey"); return }
        #expect(sk == lab.serverKey.publicKey)
        // A forged ClientInfo: claims registered node 0, sealed with unregistered node 4's key.
        guard case .clientInfo(_, let nonce, let sealed) = RelayClientProof.seal(
            nodeKey: lab.nodes[4], serverKey: sk, unixTime: Int64(Date.nowUnix), nonce: [UInt8](repeating: 3, count: 24))! else { return }
        raw.sendRelay(.clientInfo(nodeKey: lab.nodes[0].publicKey, nonce: nonce, sealed: sealed))
        #expect(raw.sawEOF(), "the relay closes the connection")
        #expect(lab.service.stats.handshakesRefused == 1)
        #expect(!lab.service.isConnected(lab.nodes[0].publicKey))

        // A real client whose key is valid but not registered never gets in.
        let c = lab.client(4, inbox: Inbox(), transport: transport)
        #expect(await eventually { lab.service.stats.handshakesRefused >= 3 })
        #expect(!c.isConnected)
        #expect(!lab.service.isConnected(lab.nodes[4].publicKey))

        // A client pinned to another relay key refuses the relay.
        var conf = RelayClient.Configuration(host: "127.0.0.1", port: lab.server.port, pinnedServerKey: ioKey(101).publicKey)
        conf.backoff = Backoff(initial: .milliseconds(50), maximum: .milliseconds(400))
        conf.transport = transport
        let wrongPin = RelayClient(nodeKey: lab.nodes[2], configuration: conf, group: lab.group, onReceive: { _, _ in })
        wrongPin.start()
        #expect(await eventually { wrongPin.stats.lastError?.contains("pinned") == true })
        #expect(!wrongPin.isConnected)
        await wrongPin.close()
        await lab.shutdown()
    }

    @Test func aSlowReaderDoesNotStopOthers() async throws {
        let lab = try await RelayLab()
        // C connects, proves its key, then never reads again.
        let slow = try RawRelaySocket(port: lab.server.port, receiveBuffer: 4096)
        try slow.upgrade()
        var entropy = SeededEntropy(seed: 1)
        var core = RelayClientCore(privateKey: lab.nodes[2], now: MonotonicTime(nanoseconds: 0))
        for case .send(let f) in try core.receive(try slow.nextFrame(), now: MonotonicTime(nanoseconds: 0),
                                                    unixTime: Int64(Date.nowUnix), entropy: &entropy) {
            slow.write(f.encoded)
        }
        _ = try core.receive(try slow.nextFrame(), now: MonotonicTime(nanoseconds: 0), unixTime: 0, entropy: &entropy)
        #expect(core.isConnected)
        #expect(await eventually { lab.service.isConnected(lab.nodes[2].publicKey) })

        let inA = Inbox(), inB = Inbox()
        let a = lab.client(0, inbox: inA), b = lab.client(1, inbox: inB)
        #expect(await a.waitUntilConnected())
        #expect(await b.waitUntilConnected())
        let keyA = lab.nodes[0].publicKey, keyB = lab.nodes[1].publicKey, keyC = lab.nodes[2].publicKey
        let junk = [UInt8](repeating: 0xEE, count: 1_400)
        let total = 10_000, batch = 200
        var sentToC = 0
        let start = ContinuousClock.now
        for round in 0..<(total / batch) {
            for i in 0..<batch {
                let seq = UInt32(round * batch + i)
                let p = withUnsafeBytes(of: seq.bigEndian) { Array($0) } + [UInt8](repeating: 0xAB, count: 96)
                #expect(a.send(to: keyB, packet: p))
                #expect(b.send(to: keyA, packet: p))
                if a.send(to: keyC, packet: junk) { sentToC += 1 }
            }
            let want = (round + 1) * batch
            let ok = await eventually(within: .seconds(20)) { inA.received >= want && inB.received >= want }
            #expect(ok, "round \(round): A got \(inA.received), B got \(inB.received), want \(want)")
            if !ok { break }
        }
        let elapsed = ContinuousClock.now - start
        // Everything arrived, in order.
        for (inbox, from) in [(inA, keyB), (inB, keyA)] {
            let got = inbox.packets.withLock { $0 }
            #expect(got.count == total)
            #expect(got.allSatisfy { $0.0 == from })
            let seqs = got.map { UInt32(bigEndianBytes: $0.1.prefix(4)) }
            #expect(seqs == (0..<UInt32(total)).map { $0 })
        }
        // The slow reader's queue filled and the relay dropped for it, without blocking anyone.
        let cs = lab.service.clientStats(for: keyC)
        #expect(cs != nil)
        #expect((cs?.droppedPackets ?? 0) > 0, "C: \(String(describing: cs)), sent to C: \(sentToC)")
        #expect((cs?.queuedPackets ?? .max) <= lab.service.config.maxQueuedPackets)
        #expect(elapsed < .seconds(60))
        print("slow reader test: 2 × \(total) packets in \(elapsed); \(sentToC) sent to the slow reader, \(cs?.droppedPackets ?? 0) dropped for it")
        await lab.shutdown()
    }

    @Test func revokeDisconnectsWithinTheCall() async throws {
        let lab = try await RelayLab()
        let inA = Inbox(), inB = Inbox()
        let a = lab.client(0, inbox: inA), b = lab.client(1, inbox: inB)
        #expect(await a.waitUntilConnected())
        #expect(await b.waitUntilConnected())
        a.send(to: lab.nodes[1].publicKey, packet: [1])
        #expect(await eventually { inB.received == 1 })
        let keyB = lab.nodes[1].publicKey
        await lab.service.revoke(keyB)
        // When revoke returns the relay has forgotten B and closed its socket.
        #expect(!lab.service.isConnected(keyB))
        #expect(lab.service.stats.revocations == 1)
        #expect(await eventually(within: .seconds(5)) { !b.isConnected })
        // A, which sent to B, is told it is gone; packets to B no longer arrive.
        #expect(await eventually { inA.gone.withLock { $0.contains { $0.0 == keyB && $0.1 == .disconnected } } })
        a.send(to: keyB, packet: [2])
        #expect(await eventually { inA.gone.withLock { $0.contains { $0.0 == keyB && $0.1 == .notHere } } })
        // B keeps retrying but is refused while revoked, although the registry still lists it.
        let refused = lab.service.stats.handshakesRefused
        #expect(await eventually { lab.service.stats.handshakesRefused > refused })
        #expect(!b.isConnected)
        #expect(inB.received == 1)
        // Reinstated, it comes back by itself.
        lab.service.reinstate(keyB)
        #expect(await eventually { b.isConnected })
        await lab.shutdown()
    }

    @Test func otherHTTPRequestsGetErrors() async throws {
        let lab = try await RelayLab()
        let r1 = try RawRelaySocket(port: lab.server.port)
        r1.write("GET /other HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: mesh-relay\r\n\r\n")
        #expect(try r1.readResponseHead().hasPrefix("HTTP/1.1 404"))
        let r2 = try RawRelaySocket(port: lab.server.port)
        r2.write("GET /relay HTTP/1.1\r\nHost: x\r\n\r\n")
        let head = try r2.readResponseHead()
        #expect(head.hasPrefix("HTTP/1.1 426"))
        #expect(head.lowercased().contains("upgrade: mesh-relay"))
        // Garbage after the upgrade closes the connection.
        let r3 = try RawRelaySocket(port: lab.server.port)
        try r3.upgrade()
        _ = try r3.nextFrame()
        r3.write([99, 0, 0, 0, 0])
        #expect(r3.sawEOF())
        await lab.shutdown()
    }

    @Test func clientReconnectsAfterTheConnectionDrops() async throws {
        let lab = try await RelayLab()
        let inA = Inbox(), inB = Inbox()
        let a = lab.client(0, inbox: inA), b = lab.client(1, inbox: inB)
        #expect(await a.waitUntilConnected())
        #expect(await b.waitUntilConnected())
        // Kick B off (as a relay restart would) without revoking it.
        await lab.service.revoke(lab.nodes[1].publicKey)
        lab.service.reinstate(lab.nodes[1].publicKey)
        #expect(await eventually { b.stats.connects == 2 && b.isConnected })
        a.send(to: lab.nodes[1].publicKey, packet: [7, 7])
        #expect(await eventually { inB.received == 1 })
        await lab.shutdown()
    }
}

enum Date {
    static var nowUnix: Int {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return ts.tv_sec
    }
}

extension FixedWidthInteger {
    init(bigEndianBytes b: ArraySlice<UInt8>) {
        var v: Self = 0
        for x in b { v = (v << 8) | Self(x) }
        self = v
    }
}

/// Another HTTP server's handler (standing in for Hummingbird): answers 200 "other".
final class OtherServerHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        var buf = context.channel.allocator.buffer(capacity: 5)
        buf.writeString("other")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok,
                                                             headers: ["content-length": "5"]))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(buf))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}

/// Records the HTTP upgrades announced down the pipeline (standing in for the coordinator's watcher).
final class UpgradeEventRecorder: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny
    let protocols = Mutex<[String]>([])
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? HTTPServerUpgradeEvents, case .upgradeComplete(let proto, _) = e {
            protocols.withLock { $0.append(proto) }
        }
        context.fireUserInboundEventTriggered(event)
    }
}

@Suite(.serialized) struct RelayPortSharingTests {
    /// The first client uses `transport`, the second the plain upgrade: with `.webSocket` both
    /// transports meet on the one shared port.
    @Test(arguments: allRelayTransports)
    func relaySharesAPortWithAnotherHTTPServer(transport: RelayClient.Configuration.Transport) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let serverKey = ioKey(100)
        let nodes = [ioKey(0), ioKey(1)]
        let registry = IORegistry(nodes)
        let service = RelayService(privateKey: serverKey, authorize: { registry.contains($0) })
        let events = UpgradeEventRecorder()
        let listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(OtherServerHandler())
                    try channel.pipeline.syncOperations.addHandler(events)
                    try service.addPortSharingHandler(to: channel)
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = listener.localAddress!.port!

        // Plain HTTP goes to the other server.
        let plain = try RawRelaySocket(port: port)
        plain.write("GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try plain.readResponseHead().hasPrefix("HTTP/1.1 200"))
        #expect(try plain.readBody(5) == Array("other".utf8))

        // Relay clients get the relay.
        let inbox = Inbox()
        var clients: [RelayClient] = []
        for (n, clientTransport) in zip(nodes, [transport, .upgrade]) {
            var conf = RelayClient.Configuration(host: "127.0.0.1", port: port, pinnedServerKey: serverKey.publicKey)
            conf.transport = clientTransport
            let c = RelayClient(nodeKey: n, configuration: conf, group: group, onReceive: { inbox.add($0, $1) })
            c.start()
            clients.append(c)
            #expect(await c.waitUntilConnected())
        }
        clients[0].send(to: nodes[1].publicKey, packet: [1, 2, 3])
        #expect(await eventually { inbox.received == 1 })
        #expect(inbox.packets.withLock { $0.first?.1 } == [1, 2, 3])
        clients[1].send(to: nodes[0].publicKey, packet: [4, 5])
        #expect(await eventually { inbox.received == 2 })
        #expect(Set(inbox.packets.withLock { $0.map(\.1) }) == [[1, 2, 3], [4, 5]])
        // The other server's handlers hear of each relay upgrade under its own protocol name
        // (the coordinator lifts Hummingbird's idle timeout on either).
        #expect(events.protocols.withLock { $0.sorted() } == [transport.upgradeProtocolName, "mesh-relay"].sorted())
        for c in clients { await c.close() }
        try await listener.close()
        service.shutdown()
        try await group.shutdownGracefully()
    }
}
