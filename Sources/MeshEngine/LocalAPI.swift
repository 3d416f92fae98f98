import Foundation
import Synchronization
import Logging
import NIOCore
import NIOPosix
import MeshStatus

/// The unix socket `meshctl` talks to. One request line in, one JSON document out; the socket
/// is mode 0600 because status reveals peers and endpoints.
public final class LocalAPI: Sendable {
    public static let defaultSocketPath = "/run/mesh/meshd.sock"
    public let socketPath: String
    let logger: Logger
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let channel = Mutex<(any Channel)?>(nil)

    public init(socketPath: String, logger: Logger) {
        self.socketPath = socketPath
        self.logger = logger
    }

    public func start(status: @escaping @Sendable () -> NodeStatus) throws {
        let dir = (socketPath as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
        unlink(socketPath)
        let logger = self.logger
        let bound = try ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(LocalAPIHandler(status: status, logger: logger))
                }
            }
            .bind(unixDomainSocketPath: socketPath)
            .wait()
        channel.withLock { $0 = bound }
        chmod(socketPath, 0o600)
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
    let status: @Sendable () -> NodeStatus
    let logger: Logger
    private var pending = ""

    init(status: @escaping @Sendable () -> NodeStatus, logger: Logger) {
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
            reply(context, status())
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
