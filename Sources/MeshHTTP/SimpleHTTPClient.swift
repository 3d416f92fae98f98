import Foundation
import MeshTLS
import MeshWire
import NIOCore
import NIOPosix

/// A deliberately small HTTP/1.1 client (one request per connection, `Connection: close`) over
/// TCP, TLS or a unix socket: what the `meshcoord` subcommands need to talk to the admin socket, and
/// what tests use to drive the server byte for byte (including malformed requests).
public enum SimpleHTTPClient {
    public enum Target: Sendable, CustomStringConvertible {
        case tcp(host: String, port: Int)
        /// HTTPS: TLS to `host` (checked against the client's roots), then the same exchange.
        case tls(host: String, port: Int, client: TLSClient)
        case unix(path: String)

        public var description: String {
            switch self {
            case .tcp(let h, let p): return "\(h):\(p)"
            case .tls(let h, let p, _): return "\(h):\(p) (TLS)"
            case .unix(let p): return p
            }
        }
    }

    public struct Response: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: [UInt8]

        public func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    public struct ClientError: Error, CustomStringConvertible {
        public let description: String
        public init(_ d: String) { description = d }
    }

    /// Sends one request and returns the parsed answer.
    public static func request(_ target: Target, method: String, path: String, body: [UInt8]? = nil,
                               contentType: String = "application/json", extraHeaders: [(String, String)] = [],
                               timeout: TimeAmount = .seconds(120), proxy: HTTPSProxy? = nil,
                               group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> Response {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(hostHeader(target))\r\nConnection: close\r\n"
        if let body {
            head += "Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n"
        } else if method == "POST" || method == "PUT" {
            head += "Content-Length: 0\r\n"
        }
        for (k, v) in extraHeaders { head += "\(k): \(v)\r\n" }
        head += "\r\n"
        let raw = try await exchange(target, bytes: Array(head.utf8) + (body ?? []), timeout: timeout, proxy: proxy, group: group)
        return try parse(raw)
    }

    /// Sends raw bytes, returns everything the server sends until it closes the connection.
    /// The answer is capped at `maxBytes` (a netmap of thousands of peers is a few MiB).
    /// `proxy`: a TLS target is reached through it (CONNECT) unless it bypasses that host.
    public static func exchange(_ target: Target, bytes: [UInt8], timeout: TimeAmount = .seconds(120),
                                maxBytes: Int = 64 << 20, proxy: HTTPSProxy? = nil,
                                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> [UInt8] {
        let promise = group.any().makePromise(of: [UInt8].self)
        let collector = Collector(promise: promise, maxBytes: maxBytes)
        var tls: (client: TLSClient, host: String)? = nil
        var tunnel: (proxy: HTTPSProxy, host: String, port: Int)? = nil
        if case .tls(let host, let port, let client) = target {
            tls = (client, host)
            if let proxy, proxy.applies(to: host) { tunnel = (proxy, host, port) }
        }
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.seconds(10))
            .channelInitializer { [tls, tunnel] ch in
                ch.eventLoop.makeCompletedFuture {
                    if let tunnel {
                        try ch.pipeline.syncOperations.addHandler(
                            HTTPConnectTunnelHandler(proxy: tunnel.proxy, targetHost: tunnel.host, targetPort: tunnel.port))
                    }
                    if let tls { try ch.pipeline.syncOperations.addHandler(tls.client.handler(for: tls.host)) }
                    try ch.pipeline.syncOperations.addHandler(collector)
                }
            }
        let channel: any Channel
        switch target {
        case .tcp(let host, let port), .tls(let host, let port, _):
            let (connectHost, connectPort) = tunnel.map { ($0.proxy.host, $0.proxy.port) } ?? (host, port)
            do { channel = try await bootstrap.connect(host: connectHost, port: connectPort).get() } catch {
                promise.fail(error)
                throw error
            }
        case .unix(let path):
            do { channel = try await bootstrap.connect(unixDomainSocketPath: path).get() } catch {
                promise.fail(error)
                throw error
            }
        }
        let timer = channel.eventLoop.scheduleTask(in: timeout) {
            collector.finish(.failure(ClientError("no complete answer from \(target) within \(timeout.nanoseconds / 1_000_000_000) s")))
            channel.close(promise: nil)
        }
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        channel.writeAndFlush(buffer, promise: nil)
        defer { timer.cancel() }
        return try await promise.futureResult.get()
    }

    static func hostHeader(_ t: Target) -> String {
        switch t {
        case .tcp(let h, let p), .tls(let h, let p, _): return h.contains(":") ? "[\(h)]:\(p)" : "\(h):\(p)"
        case .unix: return "localhost"
        }
    }

    public static func parse(_ raw: [UInt8]) throws -> Response {
        let sep: [UInt8] = [13, 10, 13, 10]
        guard let end = raw.firstRange(of: sep) else {
            throw ClientError(raw.isEmpty ? "the server closed the connection without answering" : "incomplete HTTP answer")
        }
        let headText = String(decoding: raw[..<end.lowerBound], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw ClientError("bad HTTP status line") }
        let headers: [(String, String)] = lines.compactMap { l in
            guard let c = l.firstIndex(of: ":") else { return nil }
            return (String(l[..<c]), l[l.index(after: c)...].trimmingCharacters(in: .whitespaces))
        }
        var body = Array(raw[end.upperBound...])
        let lookup = { (n: String) in headers.first { $0.0.lowercased() == n }?.1 }
        if lookup("transfer-encoding")?.lowercased().contains("chunked") == true {
            body = try dechunk(body)
        } else if let cl = lookup("content-length").flatMap({ Int($0) }) {
            guard body.count >= cl else { throw ClientError("answer body shorter than its Content-Length") }
            body = Array(body.prefix(cl))
        }
        return Response(status: status, headers: headers, body: body)
    }

    static func dechunk(_ b: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while true {
            guard let lineEnd = b[i...].firstRange(of: [13, 10]) else { throw ClientError("bad chunked body") }
            let sizeText = String(decoding: b[i..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { throw ClientError("bad chunk size") }
            i = lineEnd.upperBound
            if size == 0 { return out }
            guard i + size <= b.count else { throw ClientError("truncated chunk") }
            out += b[i..<(i + size)]
            i += size + 2
        }
    }

    /// Sendable by hand: it is made before the channel exists and handed to the channel
    /// initializer and the timeout task; both run on the channel's event loop, the only place
    /// its fields are touched.
    final class Collector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        var data: [UInt8] = []
        let promise: EventLoopPromise<[UInt8]>
        let maxBytes: Int
        var done = false
        init(promise: EventLoopPromise<[UInt8]>, maxBytes: Int) {
            self.promise = promise
            self.maxBytes = maxBytes
        }

        /// Called on the channel's event loop only.
        func finish(_ r: Result<[UInt8], any Error>) {
            guard !done else { return }
            done = true
            promise.completeWith(r)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var b = unwrapInboundIn(data)
            guard !done else { return }
            // A server that never stops sending must not grow this buffer without bound.
            guard b.readableBytes <= maxBytes - self.data.count else {
                finish(.failure(ClientError("answer longer than \(maxBytes) bytes")))
                context.close(promise: nil)
                return
            }
            if let bytes = b.readBytes(length: b.readableBytes) { self.data += bytes }
        }

        /// The first error on the connection (a refused TLS certificate, say): the reason given
        /// when the connection ends without an answer.
        var firstError: (any Error)?

        func channelInactive(context: ChannelHandlerContext) {
            if data.isEmpty, let firstError {
                finish(.failure(ClientError("\(firstError)")))
            } else {
                finish(.success(data))
            }
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            if firstError == nil { firstError = error }
            context.close(promise: nil)
        }
    }
}
