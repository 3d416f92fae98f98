#if canImport(Glibc)
import Glibc
#endif
import Logging
import MeshBase
import MeshDNS
import MeshEngine
import Testing

/// The MagicDNS driver on loopback (no TUN, so no device binding): answers over UDP and TCP,
/// forwarding to a fake upstream under a fresh ID and back under the client's, SERVFAIL when
/// the upstream stays silent.
@Suite(.serialized) struct MagicDNSServerTests {
    static let table = MagicDNSTable(domain: "mesh", entries: [
        .init(name: "b", ipv4: try! IPAddress("100.64.0.2"), ipv6: nil),
    ], overlayPrefixes: [try! IPPrefix("100.64.0.0/10")])

    static func query(_ name: String, id: UInt16) -> [UInt8] {
        [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0] + DNSName(name)!.wire + [0, 1, 0, 1]
    }

    /// A UDP socket on 127.0.0.1 with a 3 s receive timeout; returns it and its port.
    static func udpSocket() -> (Int32, UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var tv = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return (fd, UInt16(bigEndian: a.sin_port))
    }

    static func address(port: UInt16) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        return a
    }

    static func send(_ fd: Int32, _ bytes: [UInt8], to port: UInt16) {
        var a = address(port: port)
        _ = bytes.withUnsafeBytes { b in
            withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, b.baseAddress, b.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            } }
        }
    }

    /// One datagram and the port it came from (nil after the timeout).
    static func receive(_ fd: Int32) -> ([UInt8], UInt16)? {
        var buf = [UInt8](repeating: 0, count: 4096)
        var from = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let n = buf.withUnsafeMutableBytes { b in
            withUnsafeMutablePointer(to: &from) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, b.baseAddress, b.count, 0, $0, &len) } }
        }
        guard n > 0 else { return nil }
        return (Array(buf[0..<n]), UInt16(bigEndian: from.sin_port))
    }

    static func server(upstreamPort: UInt16) -> MagicDNSServer {
        var logger = Logger(label: "test.magicdns")
        logger.logLevel = .error
        return MagicDNSServer(addresses: [try! IPAddress("127.0.0.1")], interfaceName: nil, table: table,
                              upstreams: [DNSUpstream(address: try! IPAddress("127.0.0.1"), port: upstreamPort)],
                              port: 0, logger: logger)
    }

    @Test func answersOverUDPAndTCPAndForwardsTheRest() throws {
        let (upstream, upstreamPort) = Self.udpSocket()
        defer { close(upstream) }
        let server = Self.server(upstreamPort: upstreamPort)
        #expect(server.start().count == 1)
        defer { server.stop() }
        let (udpPort, tcpPort) = try #require(server.boundPorts)
        let (client, _) = Self.udpSocket()
        defer { close(client) }

        // Ours: answered at once.
        Self.send(client, Self.query("b.mesh", id: 0x1111), to: UInt16(udpPort))
        let (a, _) = try #require(Self.receive(client))
        #expect(a[0] == 0x11 && a[1] == 0x11 && a[3] & 0x0F == 0 && Array(a.suffix(4)) == [100, 64, 0, 2])

        // Not ours: the upstream gets it under another ID from the server's socket; its answer
        // comes back to the client under the client's ID.
        Self.send(client, Self.query("coord.lab.test", id: 0x2222), to: UInt16(udpPort))
        let (forwarded, serverPort) = try #require(Self.receive(upstream))
        #expect(forwarded[0...1] != [0x22, 0x22])
        #expect(Array(forwarded[2...]) == Array(Self.query("coord.lab.test", id: 0)[2...]))
        var reply = forwarded
        reply[2] |= 0x80; reply[3] |= 0x80; reply[7] = 1
        reply += [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 100]
        Self.send(upstream, reply, to: serverPort)
        let (back, _) = try #require(Self.receive(client))
        #expect(back[0] == 0x22 && back[1] == 0x22 && Array(back.suffix(4)) == [203, 0, 113, 100])

        // TCP: two queries in one write, two framed answers.
        let tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(tcp) }
        var tv = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(tcp, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var to = Self.address(port: UInt16(tcpPort))
        let rc = withUnsafePointer(to: &to) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(tcp, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(rc == 0)
        let out = DNSTCPFramer.frame(Self.query("b.mesh", id: 1))! + DNSTCPFramer.frame(Self.query("nope.mesh", id: 2))!
        _ = out.withUnsafeBytes { Glibc.send(tcp, $0.baseAddress, $0.count, 0) }
        var framer = DNSTCPFramer()
        var answers: [[UInt8]] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while answers.count < 2 {
            let n = buf.withUnsafeMutableBytes { recv(tcp, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            answers += framer.append(buf[0..<n])
        }
        #expect(answers.count == 2)
        #expect(answers.first.map { $0[1] == 1 && $0[3] & 0x0F == 0 } == true)
        #expect(answers.last.map { $0[1] == 2 && $0[3] & 0x0F == 3 } == true)  // NXDOMAIN

        let c = server.counters
        #expect(c.answered == 3 && c.forwarded == 1 && c.forwardAnswered == 1 && c.failed == 0)
    }

    /// A TCP client's query whose UDP answer is truncated is asked again over TCP: the whole
    /// answer reaches the client.
    @Test func truncatedAnswerIsFetchedOverTCPForATCPClient() throws {
        let (upstream, upstreamPort) = Self.udpSocket()
        defer { close(upstream) }
        // The upstream's TCP side on the same port number.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var at = Self.address(port: upstreamPort)
        let bound = withUnsafePointer(to: &at) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(bound == 0 && listen(listener, 4) == 0)
        let server = Self.server(upstreamPort: upstreamPort)
        server.start()
        defer { server.stop() }
        let (_, tcpPort) = try #require(server.boundPorts)

        let tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(tcp) }
        var tv = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(tcp, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var to = Self.address(port: UInt16(tcpPort))
        let rc = withUnsafePointer(to: &to) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(tcp, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(rc == 0)
        let query = Self.query("big.lab.test", id: 0x7777)
        let framed = DNSTCPFramer.frame(query)!
        _ = framed.withUnsafeBytes { Glibc.send(tcp, $0.baseAddress, $0.count, 0) }

        // Over UDP: truncated.
        let (forwarded, serverPort) = try #require(Self.receive(upstream))
        var truncated = forwarded
        truncated[2] |= 0x82; truncated[3] |= 0x80
        Self.send(upstream, truncated, to: serverPort)
        // Over TCP: the client's own query, answered in full (40 A records).
        let conn = accept(listener, nil, nil)
        #expect(conn >= 0)
        defer { close(conn) }
        setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var framer = DNSTCPFramer()
        var buf = [UInt8](repeating: 0, count: 4096)
        var asked: [[UInt8]] = []
        while asked.isEmpty {
            let n = buf.withUnsafeMutableBytes { recv(conn, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            asked += framer.append(buf[0..<n])
        }
        #expect(asked == [query])
        var full = query
        full[2] |= 0x80; full[3] |= 0x80; full[7] = 40
        for i in 0..<40 { full += [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, UInt8(i)] }
        let fullFramed = DNSTCPFramer.frame(full)!
        _ = fullFramed.withUnsafeBytes { Glibc.send(conn, $0.baseAddress, $0.count, 0) }

        var clientFramer = DNSTCPFramer()
        var got: [[UInt8]] = []
        while got.isEmpty {
            let n = buf.withUnsafeMutableBytes { recv(tcp, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            got += clientFramer.append(buf[0..<n])
        }
        #expect(got == [full])
    }

    @Test func silentUpstreamMeansServFailAfterTheTimeout() throws {
        let (upstream, upstreamPort) = Self.udpSocket()
        defer { close(upstream) }
        let server = Self.server(upstreamPort: upstreamPort)
        server.start()
        defer { server.stop() }
        let (udpPort, _) = try #require(server.boundPorts)
        let (client, _) = Self.udpSocket()
        defer { close(client) }
        let t0 = ContinuousClock.now
        Self.send(client, Self.query("slow.lab.test", id: 0x3333), to: UInt16(udpPort))
        #expect(Self.receive(upstream) != nil)
        let (a, _) = try #require(Self.receive(client))
        let waited = ContinuousClock.now - t0
        #expect(a[0] == 0x33 && a[1] == 0x33 && a[3] & 0x0F == 2)
        #expect(waited >= .seconds(2) && waited < .seconds(3))
        #expect(server.counters.failed == 1)
    }
}
