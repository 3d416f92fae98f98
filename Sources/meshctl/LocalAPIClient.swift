import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

/// Sends one request line to meshd's unix socket and collects the whole answer.
struct LocalAPIClient {
    let socketPath: String

    func request(_ line: String) throws -> Data {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let collector = ReplyCollector()
        let channel: Channel
        do {
            channel = try ClientBootstrap(group: group)
                .channelInitializer { ch in
                    ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(collector) }
                }
                .connect(unixDomainSocketPath: socketPath)
                .wait()
        } catch {
            throw CommandFailure("cannot reach meshd at \(socketPath): \(error). Is meshd running?")
        }
        var buffer = channel.allocator.buffer(capacity: line.utf8.count + 1)
        buffer.writeString(line + "\n")
        try channel.writeAndFlush(buffer).wait()
        try channel.closeFuture.wait()
        return collector.data
    }
}

/// Sendable by hand: it is made here and handed to the channel initializer; `data` is written
/// only on the channel's event loop and read only after `closeFuture` completed, which orders
/// those writes before the read.
private final class ReplyCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    var data = Data()
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var b = unwrapInboundIn(data)
        if let bytes = b.readBytes(length: b.readableBytes) { self.data.append(contentsOf: bytes) }
    }
}
