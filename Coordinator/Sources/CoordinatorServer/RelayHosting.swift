import Hummingbird
import HummingbirdCore
import Logging
import MeshCrypto
import NIOCore
import NIOHTTP1
import Relay
import RelayIO
import ServiceLifecycle

// The coordinator serves the DERP-style relay (DESIGN.md section 6) on its node HTTP port:
// `GET /relay` + `Upgrade: mesh-relay` is taken over by `RelayIO` before Hummingbird sees it,
// everything else is the node API.

extension Coordinator {
    /// The relay's admission rule: the node key belongs to a registered node that is neither
    /// expired (or logged out) nor removed. Runs under the relay's lock and takes the hub's;
    /// nothing may call into the relay while holding the hub's lock.
    static func relayAuthorizer(hub: NetworkHub) -> RelayServerCore.Authorizer {
        { key in hub.node(key: key.base64)?.isActive == true }
    }

    /// The node was expired, logged out or removed: drop its relay connection now (the call
    /// returns once its socket is closed) and refuse it until it registers again.
    func revokeRelay(nodeKey base64: String) async {
        guard let key = try? PublicKey(base64: base64) else { return }
        await relay.revoke(key)
    }

    /// The node key (re)registered: lift an earlier revocation.
    func reinstateRelay(nodeKey base64: String) {
        guard let key = try? PublicKey(base64: base64) else { return }
        relay.reinstate(key)
    }
}

/// Hummingbird's HTTP/1 child channel with, in front, the connection gate (caps per source
/// and in all), the request deadlines, and the relay's port-sharing handler; with `tls`, TLS
/// in front of all of them (so the relay upgrade and its WebSocket variant run inside TLS).
struct RelaySharingHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let http: HTTP1Channel
    let relay: RelayService
    let gate: ConnectionGate?
    let tls: ReloadableServerTLS?
    let headTimeout: TimeAmount
    let idleTimeout: TimeAmount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        // A refused connection is closed here, before Hummingbird sets anything up; failing the
        // setup drops it without disturbing the accept loop.
        if let gate, !gate.admit(channel) {
            return channel.eventLoop.makeFailedFuture(ConnectionRefused())
        }
        return http.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let ops = channel.pipeline.syncOperations
            try relay.addPortSharingHandler(to: channel)
            let timer = ConnectionDeadlineTimer(headTimeout: headTimeout, idleTimeout: idleTimeout, gate: gate)
            try ops.addHandler(RawBytesDeadlineHandler(timer: timer), position: .first)
            // After an upgrade the relay owns the connection: Hummingbird's idle timeout and the
            // request deadlines, which never see the relay's traffic, must not close it.
            let state = try ops.handler(type: HTTPConnectionStateHandler.self)
            try ops.addHandler(HTTPPartDeadlineHandler(timer: timer), position: .before(state))
            try ops.addHandler(RelayUpgradeWatcher(), position: .before(state))
            // Added last at the front: first to see the bytes. The deadline timer started above,
            // so a TLS handshake that never completes is closed at the request head deadline.
            if let tls { try ops.addHandler(tls.makeHandler(), position: .first) }
            try channel.syncOptions?.setOption(.socketOption(.tcp_nodelay), value: 1)
            try channel.syncOptions?.setOption(.writeBufferWaterMark, value: .init(low: 64 * 1024, high: 256 * 1024))
            return value
        }.flatMapErrorThrowing { error in
            // Never leave a half-set-up connection open (it would hold a descriptor and a slot).
            channel.close(promise: nil)
            throw error
        }
    }

    func handle(value: Value, logger: Logger) async {
        await http.handle(value: value, logger: logger)
    }

    static func builder(configuration: HTTP1Channel.Configuration, relay: RelayService, gate: ConnectionGate?,
                        tls: ReloadableServerTLS? = nil,
                        headTimeout: TimeAmount, idleTimeout: TimeAmount) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            RelaySharingHTTP1Channel(http: HTTP1Channel(responder: responder, configuration: configuration), relay: relay,
                                     gate: gate, tls: tls, headTimeout: headTimeout, idleTimeout: idleTimeout)
        }
    }
}

/// Sits in Hummingbird's part of the pipeline; when the relay upgrade completes (the event
/// travels down the pipeline), removes Hummingbird's connection-state handler (idle timeout),
/// the request deadline handlers, and itself. The relay's own handshake timeout takes over.
/// Graceful shutdown closes relay connections through `RelayLifecycleService`.
final class RelayUpgradeWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Either relay transport: the mesh-relay upgrade or its WebSocket variant.
        if let e = event as? HTTPServerUpgradeEvents, case .upgradeComplete(let proto, _) = e,
           proto == RelayService.upgradeProtocol || proto.lowercased() == "websocket" {
            let ops = context.pipeline.syncOperations
            if let state = try? ops.handler(type: HTTPConnectionStateHandler.self) {
                ops.removeHandler(state, promise: nil)
            }
            if let raw = try? ops.handler(type: RawBytesDeadlineHandler.self) { ops.removeHandler(raw, promise: nil) }
            if let parts = try? ops.handler(type: HTTPPartDeadlineHandler.self) { ops.removeHandler(parts, promise: nil) }
            context.fireUserInboundEventTriggered(event)
            ops.removeHandler(context: context, promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// Runs the relay's timers while the coordinator runs; on graceful shutdown closes every relay
/// connection (before the HTTP server, which waits for its connections, stops).
struct RelayLifecycleService: Service {
    let relay: RelayService
    let loop: EventLoop

    func run() async throws {
        relay.startTimers(on: loop)
        try? await gracefulShutdown()
        relay.shutdown()
    }
}
