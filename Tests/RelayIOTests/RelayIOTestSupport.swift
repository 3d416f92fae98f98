import MeshCrypto
import MeshWire
import NIOCore
import NIOPosix
import Relay
import RelayIO
import Synchronization
import Testing
import WireGuard

#if canImport(Glibc)
import Glibc
#endif

func ioKey(_ seed: UInt64) -> PrivateKey {
    _ = Sodium.isReady
    var e = SeededEntropy(seed: seed &+ 1_000)
    return PrivateKey.generate(using: &e)
}

final class IORegistry: Sendable {
    let keys = Mutex(Set<PublicKey>())
    init(_ k: [PrivateKey]) { keys.withLock { $0 = Set(k.map(\.publicKey)) } }
    func contains(_ k: PublicKey) -> Bool { keys.withLock { $0.contains(k) } }
}

/// What a client received, for assertions.
final class Inbox: Sendable {
    let packets = Mutex<[(PublicKey, [UInt8])]>([])
    let gone = Mutex<[(PublicKey, RelayFrame.PeerGoneReason)]>([])
    let count = Atomic<Int>(0)
    let keepPackets: Bool
    init(keepPackets: Bool = true) { self.keepPackets = keepPackets }
    func add(_ k: PublicKey, _ p: [UInt8]) {
        if keepPackets { packets.withLock { $0.append((k, p)) } }
        count.add(1, ordering: .relaxed)
    }
    var received: Int { count.load(ordering: .relaxed) }
}

/// A relay server on 127.0.0.1 with nodes 0...3 registered (node 4 is not), and clients.
final class RelayLab: Sendable {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    let serverKey = ioKey(100)
    let nodes = (0..<5).map { ioKey(UInt64($0)) }
    let registry: IORegistry
    let server: RelayServer
    let clients = Mutex<[RelayClient]>([])

    init(config: RelayServerConfig = RelayServerConfig()) async throws {
        registry = IORegistry(Array(nodes.prefix(4)))
        let r = registry
        let service = RelayService(privateKey: serverKey, config: config, authorize: { r.contains($0) })
        server = try await RelayServer.start(host: "127.0.0.1", port: 0, service: service, group: group,
                                             tickInterval: .milliseconds(100))
    }

    var service: RelayService { server.service }

    func client(_ n: Int, inbox: Inbox, pinned: Bool = true, transport: RelayClient.Configuration.Transport = .upgrade) -> RelayClient {
        var conf = RelayClient.Configuration(host: "127.0.0.1", port: server.port,
                                             pinnedServerKey: pinned ? serverKey.publicKey : nil)
        conf.backoff = Backoff(initial: .milliseconds(50), maximum: .milliseconds(400))
        conf.tickInterval = .milliseconds(100)
        conf.transport = transport
        let c = RelayClient(nodeKey: nodes[n], configuration: conf, group: group,
                            onReceive: { inbox.add($0, $1) },
                            onPeerGone: { k, r in inbox.gone.withLock { $0.append((k, r)) } })
        clients.withLock { $0.append(c) }
        c.start()
        return c
    }

    func shutdown() async {
        for c in clients.withLock({ $0 }) { await c.close() }
        try? await server.close()
        try? await group.shutdownGracefully()
    }
}

/// Every relay transport, for tests that run once per transport.
let allRelayTransports: [RelayClient.Configuration.Transport] = [.upgrade, .webSocket]

extension RelayClient.Configuration.Transport {
    /// The protocol name the server's HTTP upgrade event reports for this transport.
    var upgradeProtocolName: String {
        switch self {
        case .upgrade: "mesh-relay"
        case .webSocket: "websocket"
        }
    }
}

/// A hand-driven connection that has done the relay upgrade over either transport, so a
/// misbehaving-client test can be written once for both.
protocol RawRelayConnection: AnyObject {
    func nextRelayFrame() throws -> RelayFrame
    func sendRelay(_ frame: RelayFrame)
    func sawEOF() -> Bool
}

/// Connects to the relay on `port` and performs the upgrade for `transport`.
func openRawRelay(port: Int, transport: RelayClient.Configuration.Transport) throws -> any RawRelayConnection {
    switch transport {
    case .upgrade:
        let raw = try RawRelaySocket(port: port)
        try raw.upgrade()
        return raw
    case .webSocket:
        let raw = try RawWebSocket(port: port)
        try raw.upgrade()
        return raw
    }
}

/// A blocking TCP socket to the relay, driven by hand: for clients that misbehave.
final class RawRelaySocket {
    let fd: Int32
    var decoder = RelayFrameDecoder()
    var afterHead: [UInt8] = []

    init(port: Int, receiveBuffer: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawError.socket }
        if var rb = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, socklen_t(MemoryLayout<Int32>.size))
        }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { Glibc.close(fd); throw RawError.connect }
    }

    enum RawError: Error { case socket, connect, closed, badResponse(String) }

    func write(_ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            off += n
        }
    }

    func write(_ s: String) { write(Array(s.utf8)) }

    /// Up to `max` bytes; empty on EOF, error or timeout.
    func read(_ max: Int = 65_536) -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: max)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, max, 0) }
        return n > 0 ? Array(buf.prefix(n)) : []
    }

    /// True when the peer closed the connection (recv returns 0) within the receive timeout.
    func sawEOF() -> Bool {
        var b: UInt8 = 0
        while true {
            let n = recv(fd, &b, 1, 0)
            if n == 0 { return true }
            if n < 0 { return errno == ECONNRESET }
        }
    }

    /// Reads an HTTP response head; the bytes after it go to the frame decoder.
    func readResponseHead() throws -> String {
        var acc: [UInt8] = []
        while true {
            let chunk = read()
            if chunk.isEmpty { throw RawError.closed }
            acc += chunk
            if let r = acc.indices.dropLast(3).first(where: { acc[$0] == 13 && acc[$0 + 1] == 10 && acc[$0 + 2] == 13 && acc[$0 + 3] == 10 }) {
                decoder.append(acc[(r + 4)...])
                afterHead = Array(acc[(r + 4)...])
                return String(decoding: acc[..<r], as: UTF8.self)
            }
        }
    }

    /// `n` bytes after the response head (for plain HTTP answers).
    func readBody(_ n: Int) throws -> [UInt8] {
        var acc = afterHead
        while acc.count < n {
            let chunk = read()
            if chunk.isEmpty { throw RawError.closed }
            acc += chunk
        }
        return Array(acc.prefix(n))
    }

    func nextFrame() throws -> RelayFrame {
        while true {
            if let f = try decoder.next() { return f }
            let chunk = read()
            if chunk.isEmpty { throw RawError.closed }
            decoder.append(chunk)
        }
    }

    func upgrade() throws {
        write("GET /relay HTTP/1.1\r\nHost: relay\r\nConnection: Upgrade\r\nUpgrade: mesh-relay\r\n\r\n")
        let head = try readResponseHead()
        guard head.hasPrefix("HTTP/1.1 101") else { throw RawError.badResponse(head) }
    }

    deinit { Glibc.close(fd) }
}

extension RawRelaySocket: RawRelayConnection {
    func nextRelayFrame() throws -> RelayFrame { try nextFrame() }
    func sendRelay(_ frame: RelayFrame) { write(frame.encoded) }
}

extension RawWebSocket: RawRelayConnection {
    func sawEOF() -> Bool { raw.sawEOF() }
}
