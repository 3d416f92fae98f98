import Foundation
import Synchronization
import Logging
import NIOCore
import NIOPosix
import MeshIO
import MeshStatus

/// The unix socket `meshctl` talks to. One request line in, one JSON document out; the socket
/// is mode 0600 because status reveals peers and endpoints.
public final class LocalAPI: Sendable {
    public static let defaultSocketPath = "/run/mesh/meshd.sock"
    public let socketPath: String
    let logger: Logger
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let channel = Mutex<(any Channel)?>(nil)

    /// What `status` answers; nil until the node is configured (it may still be registering).
    private let statusSource = Mutex<(@Sendable () -> NodeStatus)?>(nil)

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
        let logger = self.logger
        let bound: any Channel
        do {
            bound = try ServerBootstrap(group: group)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            LocalAPIHandler(status: { [weak self] in self?.statusSource.withLock { $0 }?() }, logger: logger))
                    }
                }
                .bind(unixDomainSocketPath: socketPath)
                .wait()
        } catch {
            throw LocalAPIError(error: "cannot listen on \(socketPath): \(error)")
        }
        channel.withLock { $0 = bound }
        chmod(socketPath, 0o600)
    }

    /// Answers `status` from now on (claims the socket first if `claim` was not called).
    public func start(status: @escaping @Sendable () -> NodeStatus) throws {
        if channel.withLock({ $0 }) == nil { try claim() }
        statusSource.withLock { $0 = status }
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
    /// nil while the node is still starting.
    let status: @Sendable () -> NodeStatus?
    let logger: Logger
    private var pending = ""

    init(status: @escaping @Sendable () -> NodeStatus?, logger: Logger) {
        self.status = status
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        pending += buffer.readString(length: buffer.readableBytes) ?? ""
        guard pending.count <= 4096 else { return reply(context, ["error": "request too long"]) }
        guard let newline = pending.firstIndex(of: "\n") else { return }
        let command = pending[..<newline].trimmingCharacters(in: .whitespaces)
        switch command {
        case "status":
            if let status = status() {
                reply(context, status)
            } else {
                reply(context, LocalAPIError(error: "meshd is starting (registering with the coordinator); try again in a moment"))
            }
        default:
            reply(context, ["error": "unknown command '\(command.prefix(64))'; known: status"])
        }
    }

    private func reply(_ context: ChannelHandlerContext, _ value: some Encodable) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var data = (try? encoder.encode(value)) ?? Data("{\"error\":\"encoding failed\"}".utf8)
        data.append(UInt8(ascii: "\n"))
        var out = context.channel.allocator.buffer(capacity: data.count)
        out.writeBytes(data)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in channel.close(promise: nil) }
    }
}
