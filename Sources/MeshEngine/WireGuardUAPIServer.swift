import Foundation
import Synchronization
import Logging
import MeshBase
import NIOCore
import NIOPosix
import MeshIO

/// The unix socket `wg show` and WireGuard exporters read meshd through:
/// `<directory>/<interface>.sock` (WireGuard's cross-platform userspace API), root only
/// (0600) as wireguard-go's, since `get=1` answers the private key (`wg` derives the public
/// key from it). A thin driver: the bytes come from `WireGuardUAPIRequest` and
/// `WireGuardUAPIState.getAnswer`. Bounded: one request per connection, a deadline on each
/// connection, at most `maxConnections` at once.
///
/// The socket directory is shared by every network namespace of the machine: a second meshd
/// with the same interface name (the lab runs several `mesh0`s) finds the socket answered and
/// goes without one, with a warning, rather than failing or taking the first one's clients.
public final class WireGuardUAPIServer: Sendable {
    public static let defaultDirectory = "/var/run/wireguard"
    public static let maxConnections = 4
    public static let connectionDeadline: TimeAmount = .seconds(3)

    public let socketPath: String
    let logger: Logger
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let channel = Mutex<(any Channel)?>(nil)
    private let state = LockedClosure<@Sendable () -> WireGuardUAPIState?>()
    private let open = Mutex(0)

    public init(directory: String, interfaceName: String, logger: Logger) {
        socketPath = (directory as NSString).appendingPathComponent("\(interfaceName).sock")
        self.logger = logger
    }

    /// Answers `get=1` from `state` from now on (nil: the connection is closed unanswered).
    public func serve(_ state: @escaping @Sendable () -> WireGuardUAPIState?) {
        self.state.function = state
    }

    /// Binds the socket; a failure is logged as one sentence and leaves meshd without it
    /// (the tunnel does not need it). Returns whether the socket is up.
    @discardableResult
    public func start() -> Bool {
        let dir = (socketPath as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o755])
        } catch {
            logger.warning("wg show will not see this node: cannot create \(dir) (needs root)")
            return false
        }
        switch UnixSocketProbe.probe(socketPath) {
        case .absent: break
        case .stale: unlink(socketPath)
        case .answering:
            logger.warning("wg show will not see this node: another process answers on \(socketPath) (an interface of that name in another namespace?)")
            return false
        case .notASocket:
            logger.warning("wg show will not see this node: \(socketPath) exists and is not a socket")
            return false
        case .unknown(let code):
            logger.warning("wg show will not see this node: cannot probe \(socketPath): \(String(cString: strerror(code)))")
            return false
        }
        let bound: any Channel
        do {
            bound = try ServerBootstrap(group: group)
                .childChannelInitializer { [weak self] channel in
                    guard let self else { return channel.close() }
                    let admitted = self.open.withLock { n -> Bool in
                        guard n < Self.maxConnections else { return false }
                        n += 1
                        return true
                    }
                    guard admitted else { return channel.close() }
                    channel.closeFuture.whenComplete { [weak self] _ in self?.open.withLock { $0 -= 1 } }
                    let deadline = channel.eventLoop.scheduleTask(in: Self.connectionDeadline) { channel.close(promise: nil) }
                    channel.closeFuture.whenComplete { _ in deadline.cancel() }
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            WireGuardUAPIHandler(state: { [weak self] in self?.state.function?() }))
                    }
                }
                .bind(unixDomainSocketPath: socketPath)
                .wait()
        } catch {
            logger.warning("wg show will not see this node: cannot listen on \(socketPath): \(error)")
            return false
        }
        chmod(socketPath, 0o600)
        channel.withLock { $0 = bound }
        return true
    }

    /// Closes the socket and removes it (only if this server bound it).
    public func stop() {
        if let bound = channel.withLock({ c -> (any Channel)? in defer { c = nil }; return c }) {
            try? bound.close().wait()
            unlink(socketPath)
        }
        try? group.syncShutdownGracefully()
    }
}

private final class WireGuardUAPIHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let state: @Sendable () -> WireGuardUAPIState?
    private var request = WireGuardUAPIRequest()
    private var answered = false

    init(state: @escaping @Sendable () -> WireGuardUAPIState?) { self.state = state }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        let buffer = unwrapInboundIn(data)
        guard let operation = request.consume(buffer.readableBytesView) else { return }
        answered = true
        let answer: String
        switch operation {
        case .get:
            guard let state = state() else { context.close(promise: nil); return }
            answer = state.getAnswer
        case .set:
            answer = WireGuardUAPIRequest.setRefusal
        case .invalid:
            context.close(promise: nil)
            return
        }
        var out = context.channel.allocator.buffer(capacity: answer.utf8.count)
        out.writeString(answer)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in channel.close(promise: nil) }
    }
}
