import NIOCore
import NIOPosix

/// A standalone relay server: HTTP/1.1 on host:port answering `GET /relay` upgrades.
/// (The coordinator serves the same `RelayService` on its own HTTP port.)
public final class RelayServer: Sendable {
    public let service: RelayService
    public let channel: Channel
    public var localAddress: SocketAddress? { channel.localAddress }
    public var port: Int { channel.localAddress?.port ?? 0 }

    init(service: RelayService, channel: Channel) {
        self.service = service
        self.channel = channel
    }

    /// Binds, starts the service's timers, and serves until `close()`.
    public static func start(host: String, port: Int, service: RelayService, group: EventLoopGroup,
                             tickInterval: TimeAmount = .seconds(1)) async throws -> RelayServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 64 * 1024, high: 256 * 1024))
            .childChannelInitializer { service.configureHTTPServerPipeline(on: $0) }
            .bind(host: host, port: port).get()
        service.startTimers(on: channel.eventLoop, interval: tickInterval)
        return RelayServer(service: service, channel: channel)
    }

    /// Stops listening and closes every relay connection.
    public func close() async throws {
        try? await channel.close()
        service.shutdown()
    }
}
