import Foundation
import Synchronization
import Logging
import MeshBase
import NIOCore
import NIOPosix
import MeshIO
import MeshLocalAPI
import MeshStatus

/// The unix socket `meshctl` talks to. One request line in (`LocalAPIRequest`), one JSON
/// document out. Status reveals peers and endpoints, so the socket is mode 0600 (root only),
/// or 0660 with group `mesh` when that group exists: its members may read (status, metrics,
/// netcheck, ping); what changes state (down, up, logout) needs root, checked per request
/// from the caller's SO_PEERCRED.
public final class LocalAPI: Sendable {
    public static let defaultSocketPath = "/run/mesh/meshd.sock"
    public let socketPath: String
    let logger: Logger
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let channel = Mutex<(any Channel)?>(nil)

    /// What `status` answers; nil until the node is configured (it may still be registering).
    private let statusSource = LockedClosure<@Sendable () -> NodeStatus>()
    /// The rest of what the node can answer (`serve`).
    private let services = Mutex(LocalAPIServices())

    public init(socketPath: String, logger: Logger) {
        self.socketPath = socketPath
        self.logger = logger
    }

    /// Takes the socket path now, before the node registers: a path another meshd still
    /// answers on is an error (taking it over would leave that meshd unreachable); a stale
    /// socket a crashed meshd left behind is replaced. Until `start`, requests are answered
    /// with "starting".
    public func claim() throws {
        let dir = (socketPath as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o755])
        } catch {
            throw LocalAPIError(error: "cannot create the directory \(dir) for the socket \(socketPath) (needs root, or a writable --socket path)")
        }
        switch UnixSocketProbe.probe(socketPath) {
        case .absent: break
        case .answering:
            throw LocalAPIError(error: "another meshd answers on \(socketPath); stop it first, or give this one another --socket")
        case .stale: unlink(socketPath)
        case .notASocket:
            throw LocalAPIError(error: "\(socketPath) exists and is not a socket; remove it or choose another --socket")
        case .unknown(let code):
            throw LocalAPIError(error: "cannot tell whether another meshd answers on \(socketPath): \(String(cString: strerror(code)))")
        }
        let bound: any Channel
        do {
            bound = try ServerBootstrap(group: group)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            LocalAPIHandler(status: { [weak self] in self?.statusSource.function?() },
                                            services: { [weak self] in self?.services.withLock { $0 } ?? LocalAPIServices() }))
                    }
                }
                .bind(unixDomainSocketPath: socketPath)
                .wait()
        } catch {
            throw LocalAPIError(error: "cannot listen on \(socketPath): \(error)")
        }
        channel.withLock { $0 = bound }
        Self.restrict(socketPath, logger: logger)
    }

    /// Root only (0600), or root and the `mesh` group (0660) when that group exists.
    static func restrict(_ path: String, logger: Logger) {
        guard let group = getgrnam(LocalAPIAccess.readerGroup) else {
            chmod(path, 0o600)
            return
        }
        if chown(path, uid_t.max, group.pointee.gr_gid) == 0 {
            chmod(path, 0o660)
        } else {
            chmod(path, 0o600)
            logger.warning("cannot give \(path) to the group \(LocalAPIAccess.readerGroup) (\(String(cString: strerror(errno)))): only root can use meshctl")
        }
    }

    /// Everything beyond `status` the node answers from now on.
    public func serve(_ services: LocalAPIServices) {
        self.services.withLock { $0 = services }
    }

    /// Answers `status` from now on (claims the socket first if `claim` was not called).
    public func start(status: @escaping @Sendable () -> NodeStatus) throws {
        if channel.withLock({ $0 }) == nil { try claim() }
        statusSource.function = status
    }

    public func stop() {
        try? channel.withLock({ $0 })?.close().wait()
        unlink(socketPath)
        try? group.syncShutdownGracefully()
    }
}

private final class LocalAPIHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let responder: LocalAPIResponder
    private var pending: [UInt8] = []
    private var answered = false

    init(status: @escaping @Sendable () -> NodeStatus?, services: @escaping @Sendable () -> LocalAPIServices) {
        responder = LocalAPIResponder(status: status, services: services)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        var buffer = unwrapInboundIn(data)
        pending += buffer.readBytes(length: buffer.readableBytes) ?? []
        guard pending.count <= 4096 else {
            answered = true
            responder.finish(context.channel, LocalAPIError(error: "request too long"))
            return
        }
        // Bytes, not Characters: "\r\n" is one Character in Swift, so a CRLF request would
        // never show a "\n"; and a read may end inside a multi-byte character.
        guard let newline = pending.firstIndex(of: UInt8(ascii: "\n")) else { return }
        answered = true
        let line = String(decoding: pending[..<newline], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let request: LocalAPIRequest
        do { request = try LocalAPIRequest(line: line) } catch {
            responder.finish(context.channel, LocalAPIError(error: "\(error)"))
            return
        }
        let channel = context.channel
        let responder = self.responder
        guard request.changesState else { responder.route(request, channel); return }
        // Only root (or meshd's own user) may change the node's state: ask the kernel who called.
        guard let provider = channel as? SocketOptionProvider else {
            responder.finish(channel, LocalAPIError(error: LocalAPIAccess.refusal(request, peerUID: nil)))
            return
        }
        let credentials: EventLoopFuture<PeerCredentials> =
            provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        let daemonUID = UInt32(geteuid())
        credentials.whenComplete { result in
            let uid = try? result.get().uid
            guard LocalAPIAccess.allows(request, peerUID: uid, daemonUID: daemonUID) else {
                responder.finish(channel, LocalAPIError(error: LocalAPIAccess.refusal(request, peerUID: uid)))
                return
            }
            responder.route(request, channel)
        }
    }
}

/// Answers one parsed request; Sendable, so answers can come from other threads (a Pong, the
/// coordinator's reply).
struct LocalAPIResponder: Sendable {
    /// nil while the node is still starting.
    let status: @Sendable () -> NodeStatus?
    let services: @Sendable () -> LocalAPIServices

    func route(_ request: LocalAPIRequest, _ channel: any Channel) {
        let services = services()
        let unavailable = LocalAPIError(error: "'\(request.line.split(separator: " ").first ?? "")' is not available in this mode (it needs a node joined to a network: meshd up)")
        switch request {
        case .status:
            if let status = status() {
                finish(channel, status)
            } else {
                finish(channel, LocalAPIError(error: "meshd is starting (registering with the coordinator); try again in a moment"))
            }
        case .version:
            finish(channel, DaemonVersion(version: MeshVersion.string))
        case .metrics:
            guard let status = status() else {
                finish(channel, LocalAPIError(error: "meshd is starting; try again in a moment"))
                return
            }
            finish(channel, NodeMetrics.families(status: status, counters: services.counters?(), tunnelUp: services.tunnelUp?()))
        case .netcheck:
            guard let netcheck = services.netcheck else { finish(channel, unavailable); return }
            netcheck { self.finish(channel, $0) }
        case .ping(let peer, let timeout):
            guard let ping = services.ping else { finish(channel, unavailable); return }
            ping(peer, .milliseconds(timeout)) { self.finish(channel, $0) }
        case .down:
            guard let down = services.down else { finish(channel, unavailable); return }
            finish(channel, down())
        case .up:
            guard let up = services.up else { finish(channel, unavailable); return }
            finish(channel, up())
        case .logout:
            guard let logout = services.logout else { finish(channel, unavailable); return }
            let after = services.afterLogout
            logout { result in
                let written = self.finish(channel, result)
                if case .success = result, let after { written.whenComplete { _ in after() } }
            }
        }
    }

    @discardableResult
    func finish<T: Encodable>(_ channel: any Channel, _ result: Result<T, LocalAPIError>) -> EventLoopFuture<Void> {
        switch result {
        case .success(let value): finish(channel, value)
        case .failure(let error): finish(channel, error)
        }
    }

    /// Writes the answer and closes the connection; safe from any thread.
    @discardableResult
    func finish(_ channel: any Channel, _ value: some Encodable) -> EventLoopFuture<Void> {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var data = (try? encoder.encode(value)) ?? Data("{\"error\":\"encoding failed\"}".utf8)
        data.append(UInt8(ascii: "\n"))
        var out = channel.allocator.buffer(capacity: data.count)
        out.writeBytes(data)
        let written = channel.writeAndFlush(out)
        written.whenComplete { _ in channel.close(promise: nil) }
        return written
    }
}
