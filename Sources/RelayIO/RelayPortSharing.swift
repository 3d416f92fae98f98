import NIOCore
import NIOHTTP1

extension RelayService {
    /// Shares a port with another HTTP server (the coordinator's Hummingbird): put this handler
    /// FIRST in each child channel, before the other server's handlers. It buffers the first
    /// request head; a `GET /relay` with `Upgrade: mesh-relay` or `Upgrade: websocket` gets the
    /// relay's own HTTP pipeline (`HTTPServerUpgradeHandler` with the relay upgraders) right
    /// behind it and never reaches the other server; anything else passes through untouched.
    /// Either way it then removes itself. Must run on the channel's event loop.
    public func addPortSharingHandler(to channel: Channel) throws {
        try channel.pipeline.syncOperations.addHandler(RelayPortSharingHandler(service: self), position: .first)
    }
}

/// See `RelayService.addPortSharingHandler(to:)`.
final class RelayPortSharingHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    static let maxHead = 16 * 1024
    let service: RelayService
    private var buffered: ByteBuffer?
    private var decided = false

    init(service: RelayService) { self.service = service }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !decided else { return context.fireChannelRead(data) }
        var incoming = unwrapInboundIn(data)
        if buffered == nil { buffered = incoming } else { buffered!.writeBuffer(&incoming) }
        let bytes = buffered!.readableBytesView
        let end = Self.headEnd(bytes)
        guard end != nil || bytes.count > Self.maxHead || !Self.couldBeRelay(bytes) else { return }
        decided = true
        let isRelay = end.map { Self.isRelayUpgrade(String(decoding: bytes.prefix($0), as: UTF8.self)) } ?? false
        if isRelay {
            do {
                try configureRelayPipeline(after: context)
            } catch {
                context.fireErrorCaught(error)
                context.close(promise: nil)
                return
            }
        }
        let data = buffered!
        buffered = nil
        context.fireChannelRead(wrapInboundOut(data))
        context.fireChannelReadComplete()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    private func configureRelayPipeline(after context: ChannelHandlerContext) throws {
        let ops = context.pipeline.syncOperations
        try ops.configureHTTPServerPipeline(position: .after(self),
                                            withServerUpgrade: (upgraders: [service.upgrader(), service.webSocketUpgrader()],
                                                                completionHandler: { _ in }))
        let upgrade = try ops.handler(type: HTTPServerUpgradeHandler.self)
        try ops.addHandler(RelayHTTPFallbackHandler(), name: RelayHTTPFallbackHandler.name, position: .after(upgrade))
    }

    /// A request that may still turn out to be `GET /relay ...` (so keep buffering).
    static func couldBeRelay(_ b: ByteBufferView) -> Bool {
        let prefix = Array("GET /relay".utf8)
        for (i, c) in b.prefix(prefix.count).enumerated() where c != prefix[i] { return false }
        return true
    }

    static func headEnd(_ b: ByteBufferView) -> Int? {
        var i = b.startIndex
        while i + 3 < b.endIndex {
            if b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i - b.startIndex }
            i += 1
        }
        return nil
    }

    static func isRelayUpgrade(_ head: String) -> Bool {
        let lines = head.split(separator: "\r\n")
        guard let requestLine = lines.first else { return false }
        let parts = requestLine.split(separator: " ")
        guard parts.count == 3, parts[0] == "GET",
              parts[1].split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first == Substring(RelayService.path)
        else { return false }
        return lines.dropFirst().contains { line in
            let kv = line.split(separator: ":", maxSplits: 1)
            guard kv.count == 2, kv[0].lowercased() == "upgrade" else { return false }
            return kv[1].split(separator: ",").contains {
                let p = $0.trimmingSpaces.lowercased()
                return p == RelayService.upgradeProtocol || p == "websocket"
            }
        }
    }
}
