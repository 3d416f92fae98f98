import Logging
import MeshCrypto
import MeshWire
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Relay
import Synchronization
import MeshBase

/// One connection attempt of a `RelayClient`: sends the upgrade request, checks the 101, then
/// runs a `RelayClientCore` over the frame stream. With the WebSocket transport the upgrade is
/// `RelayClientWebSocketStarter`'s, and this handler joins the pipeline after it, behind the
/// WebSocket codec and `RelayWebSocketFrameHandler`.
///
/// Sendable by hand: it is made on the client's loop and handed to the channel initializer
/// (a closure NIO may run elsewhere); its mutable fields are touched only on the channel's
/// event loop (marked "Loop-confined"), and the client it calls back is Sendable.
final class RelayClientConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Strong: the cycle client → current handler → client ends when the connection does.
    let client: RelayClient
    // Loop-confined.
    private var context: ChannelHandlerContext?
    private(set) var channel: Channel?
    private var core: RelayClientCore?
    private var httpBuffer: [UInt8] = []
    private var upgraded = false
    private var decoder = RelayFrameDecoder()
    private let endedFlag = Atomic<Bool>(false)
    private var entropy = RelaySystemEntropy()
    /// The client's packets-sent count at the previous tick: a change means traffic went out.
    private var sentAtLastTick = 0

    let webSocket: Bool

    init(client: RelayClient, webSocket: Bool = false) {
        self.client = client
        self.webSocket = webSocket
    }

    func markEnded() -> Bool { !endedFlag.exchange(true, ordering: .acquiringAndReleasing) }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.channel = context.channel
        if webSocket {
            // Added once the WebSocket upgrade is done: from here on the inbound ByteBuffers are
            // the frame stream.
            upgraded = true
            begin(channel: context.channel)
        }
    }

    /// The connection is up: start the core (its handshake timeout covers the HTTP upgrade).
    func begin(channel: Channel) {
        if self.channel == nil { self.channel = channel }
        guard core == nil else { return }
        core = RelayClientCore(privateKey: client.privateKey, config: client.configuration.relay, now: RelaySystem.now())
    }

    func channelActive(context: ChannelHandlerContext) {
        guard !webSocket else { return context.fireChannelActive() }
        let c = client.configuration
        let host = c.hostHeader ?? "\(c.host):\(c.port)"
        let request = "GET \(c.path) HTTP/1.1\r\nHost: \(host)\r\nConnection: Upgrade\r\nUpgrade: \(RelayService.upgradeProtocol)\r\n\r\n"
        begin(channel: context.channel)
        var buf = context.channel.allocator.buffer(capacity: request.utf8.count)
        buf.writeString(request)
        context.writeAndFlush(wrapOutboundOut(buf), promise: nil)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        client.ended(self, error: upgraded ? "connection closed" : "connection closed during the upgrade")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(context, "\(error)")
    }

    private func fail(_ context: ChannelHandlerContext, _ why: String, upgradeRefused: Bool = false) {
        client.ended(self, error: why, upgradeRefused: upgradeRefused)
        context.close(promise: nil)
    }

    /// The attempt failed before this handler joined the pipeline (WebSocket upgrade).
    func fail(_ why: String, upgradeRefused: Bool = false) {
        client.ended(self, error: why, upgradeRefused: upgradeRefused)
        channel?.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if upgraded {
            buffer.withUnsafeReadableBytes { decoder.append($0) }
        } else {
            httpBuffer.append(contentsOf: buffer.readableBytesView)
            guard let end = Self.headerEnd(httpBuffer) else {
                if httpBuffer.count > 16 * 1024 { fail(context, "HTTP response header too large") }
                return
            }
            let head = String(decoding: httpBuffer[..<end], as: UTF8.self)
            let lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
            let status = lines.first.map(String.init) ?? ""
            let upgradeHeader = lines.dropFirst().contains { line in
                let parts = line.split(separator: ":", maxSplits: 1)
                return parts.count == 2 && parts[0].lowercased() == "upgrade"
                    && parts[1].trimmingSpaces.lowercased() == RelayService.upgradeProtocol
            }
            guard status.hasPrefix("HTTP/1.1 101"), upgradeHeader else {
                fail(context, "relay refused the upgrade: \(status)", upgradeRefused: true)
                return
            }
            upgraded = true
            decoder.append(httpBuffer[(end + 4)...])
            httpBuffer = []
        }
        let now = RelaySystem.now(), unix = RelaySystem.unixTime()
        var delivered = 0
        let client = self.client
        do {
            while var core {
                // Once connected, RecvPacket frames go straight from the receive buffer to the
                // client's packet callback (no frame value, no event, no copy).
                let frame: RelayFrame?
                if core.isConnected {
                    frame = try decoder.next(deliveringPackets: { source, payload in
                        delivered += 1
                        client.onPacket(source, payload)
                    })
                } else {
                    frame = try decoder.next()
                }
                guard let frame else { break }
                let events = try core.receive(frame, now: now, unixTime: unix, entropy: &entropy)
                self.core = core
                for e in events { handle(e, context: context) }
            }
        } catch {
            fail(context, "\(error)")
        }
        if delivered > 0 {
            core?.noteReceived(now: now)
            client.receivedPackets(delivered)
        }
    }

    private func handle(_ e: RelayClientEvent, context: ChannelHandlerContext) {
        switch e {
        case .send(let frame):
            write(frame, context: context)
        case .connected(let key, let info):
            client.connected(self, channel: context.channel, serverKey: key, info: info)
        default:
            client.received(e)
        }
    }

    private func write(_ frame: RelayFrame, context: ChannelHandlerContext) {
        let bytes = frame.encoded
        var buf = context.channel.allocator.buffer(capacity: bytes.count)
        buf.writeBytes(bytes)
        context.writeAndFlush(wrapOutboundOut(buf), promise: nil)
    }

    /// Timers (on the loop): handshake and read timeouts, pings.
    func tick() {
        guard var core else { return }
        do {
            let now = RelaySystem.now()
            let sent = client.stats.packetsSent
            if sent != sentAtLastTick {
                sentAtLastTick = sent
                core.noteSent(now: now)
            }
            let frames = try core.tick(now: now, home: client.isHome, entropy: &entropy)
            self.core = core
            // Before the handler is in the pipeline (a WebSocket upgrade under way) there is no
            // stream to write to yet; the core only waits for ServerKey then.
            if let context { for f in frames { write(f, context: context) } }
        } catch {
            if let context { fail(context, "\(error)") } else { fail("\(error)") }
        }
    }

    static func headerEnd(_ b: [UInt8]) -> Int? {
        guard b.count >= 4 else { return nil }
        for i in 0...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 {
            return i
        }
        return nil
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}
