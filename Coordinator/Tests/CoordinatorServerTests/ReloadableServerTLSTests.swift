import CoordinatorServer
import Foundation
import Logging
import MeshCrypto
import MeshHTTP
import MeshTLS
import MeshTestSupport
import MeshWire
import NIOCore
import NIOPosix
import Relay
import RelayIO
import Synchronization
import Testing

/// The log lines a logger wrote, for checking what a reload says (and that it says nothing of
/// the key).
final class CapturedLog: Sendable {
    let lines = Mutex<[(Logger.Level, String)]>([])

    var logger: Logger {
        var l = Logger(label: "test.tls") { _ in CapturingHandler(log: self) }
        l.logLevel = .trace
        return l
    }

    struct CapturingHandler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            log.lines.withLock { $0.append((event.level, event.message.description)) }
        }
    }
}

/// Certificate files where certbot keeps them, replaced in place by a renewal.
struct LiveCertificateFiles {
    let ca: TestCertificateAuthority
    var cert: String { ca.path("fullchain.pem") }
    var key: String { ca.path("privkey.pem") }

    /// Puts the CA's `<name>.pem` and `<name>.key` in place (issuing them first).
    @discardableResult
    func renew(as name: String) throws -> String {
        let issued = try ca.issue(name)
        try replace(cert, with: try Data(contentsOf: URL(fileURLWithPath: issued.cert)))
        try replace(key, with: try Data(contentsOf: URL(fileURLWithPath: issued.key)))
        return try ca.serial(ofCertificate: issued.cert)
    }

    func replace(_ path: String, with data: Data) throws {
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

@Suite struct ReloadableServerTLSTests {
    @Test func itStartsWithTheFilesAndRefusesBadOnesAsAStartupError() throws {
        let ca = try TestCertificateAuthority()
        defer { ca.remove() }
        let live = LiveCertificateFiles(ca: ca)
        let serial = try live.renew(as: "first")
        let tls = try ReloadableServerTLS(certificateFile: live.cert, keyFile: live.key)
        #expect(tls.current.serial == serial)
        #expect(tls.certificateFile == live.cert && tls.keyFile == live.key)

        let (_, otherKey) = try ca.issue("other")
        do {
            _ = try ReloadableServerTLS(certificateFile: live.cert, keyFile: otherKey)
            Issue.record("a key of another certificate was accepted at start")
        } catch let e as StartupError {
            #expect(e.description.contains("does not match"), "\(e)")
        }
        #expect(throws: StartupError.self) { try ReloadableServerTLS(certificateFile: ca.path("nothing.pem"), keyFile: live.key) }
    }

    @Test func aReloadSwapsInTheRenewedCertificate() throws {
        let ca = try TestCertificateAuthority()
        defer { ca.remove() }
        let live = LiveCertificateFiles(ca: ca)
        let first = try live.renew(as: "first")
        let tls = try ReloadableServerTLS(certificateFile: live.cert, keyFile: live.key)
        // Nothing changed: the same certificate again.
        #expect(tls.reload() == .reloaded(serial: first, previousSerial: first))

        let second = try live.renew(as: "second")
        #expect(second != first)
        #expect(tls.reload() == .reloaded(serial: second, previousSerial: first))
        #expect(tls.current.serial == second)
    }

    /// A renewal caught half-way, a garbage key, a deleted file: the reload fails with the
    /// reason and the previous certificate stays in service; fixing the files and reloading
    /// again takes the new one.
    @Test func aFailedReloadKeepsServingThePreviousCertificate() throws {
        let ca = try TestCertificateAuthority()
        defer { ca.remove() }
        let live = LiveCertificateFiles(ca: ca)
        let first = try live.renew(as: "first")
        let tls = try ReloadableServerTLS(certificateFile: live.cert, keyFile: live.key)

        try live.replace(live.key, with: Data("this is not a key\n".utf8))
        guard case .failed(let reason, let kept) = tls.reload() else { Issue.record("a garbage key was loaded"); return }
        #expect(kept == first && tls.current.serial == first)
        #expect(reason == "TLS key file \(live.key) holds no readable PEM private key", "\(reason)")

        // The new certificate is in place, its key not yet.
        let issued = try ca.issue("second")
        try live.replace(live.cert, with: try Data(contentsOf: URL(fileURLWithPath: issued.cert)))
        try live.replace(live.key, with: try Data(contentsOf: URL(fileURLWithPath: ca.path("first.key"))))
        guard case .failed(let mismatch, first) = tls.reload() else { Issue.record("a mismatched pair was loaded"); return }
        #expect(mismatch.contains("does not match"), "\(mismatch)")

        try FileManager.default.removeItem(atPath: live.key)
        guard case .failed(let gone, first) = tls.reload() else { Issue.record("a missing key was loaded"); return }
        #expect(gone == "TLS key file \(live.key) does not exist", "\(gone)")
        #expect(tls.current.serial == first)

        try live.replace(live.key, with: try Data(contentsOf: URL(fileURLWithPath: issued.key)))
        let second = try ca.serial(ofCertificate: issued.cert)
        #expect(tls.reload() == .reloaded(serial: second, previousSerial: first))
    }

    /// One line per reload: a notice naming both serials, or an error with the reason and the
    /// serial still served. Neither carries anything of a key.
    @Test func aReloadLogsOneLineWithoutKeyMaterial() throws {
        let ca = try TestCertificateAuthority()
        defer { ca.remove() }
        let live = LiveCertificateFiles(ca: ca)
        let first = try live.renew(as: "first")
        let tls = try ReloadableServerTLS(certificateFile: live.cert, keyFile: live.key)
        let log = CapturedLog()
        let now = Int64(Date().timeIntervalSince1970)

        let second = try live.renew(as: "second")
        tls.reload(logger: log.logger, nowSeconds: now)
        let firstKey = try String(contentsOfFile: ca.path("first.key"), encoding: .utf8)
        try live.replace(live.key, with: Data(firstKey.utf8))
        tls.reload(logger: log.logger, nowSeconds: now)

        let lines = log.lines.withLock { $0 }
        #expect(lines.count == 2)
        #expect(lines.first?.0 == .notice)
        #expect(lines.first?.1.contains("serial \(second)") == true && lines.first?.1.contains("was serial \(first)") == true,
                "\(lines)")
        #expect(lines.last?.0 == .error)
        #expect(lines.last?.1.hasPrefix("TLS reload failed, still serving serial \(second): ") == true, "\(lines)")
        for (_, text) in lines {
            try ServerTLSIdentityTests.expectNoKeyMaterial(text, ca)
        }
    }

    /// A coordinator terminating TLS itself, end to end: nodes register and follow the netmap
    /// over https, relay connections run inside TLS, openssl's own client sees the certificate;
    /// after a renewal and `reload()` new connections get the new certificate while the relay
    /// connections and the long-poll opened before it carry on; plain HTTP gets no answer.
    @Test func aCoordinatorServesHTTPSAndTheRelayAndNewConnectionsGetTheRenewedCertificate() async throws {
        let ca = try TestCertificateAuthority()
        defer { ca.remove() }
        let live = LiveCertificateFiles(ca: ca)
        let first = try live.renew(as: "first")
        let server = try await TestCoordinator.start("tls") {
            $0.tlsCertificateFile = live.cert
            $0.tlsKeyFile = live.key
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var clients: [RelayClient] = []
        do {
            let tls = try #require(server.coordinator.tls)
            #expect(server.coordinator.config.effectivePublicURL.hasPrefix("https://"))
            #expect(try ca.servedSerial(port: server.port) == first)

            let client = try TLSClient(caFile: ca.caFile)
            let https = SimpleHTTPClient.Target.tls(host: "127.0.0.1", port: server.port, client: client)
            let hello = try await SimpleHTTPClient.request(https, method: "GET", path: "/", timeout: .seconds(10))
            #expect(hello.status == 200 && hello.text.contains("meshcoord"), "\(hello.text)")

            let token = try await server.authKey(reusable: true)
            var nodes: [(TestNode, RelayInbox, RelayClient)] = []
            for name in ["alpha", "beta"] {
                let n = TestNode(target: https, coordinatorKeyBytes: server.coordinator.publicKey.rawBytes)
                let r = try await n.register(token, hostname: name)
                #expect(r.relays.first?.url == "https://127.0.0.1:\(server.port)/relay", "\(r.relays)")
                let inbox = RelayInbox()
                var conf = RelayClient.Configuration(host: "127.0.0.1", port: server.port, pinnedServerKey: server.coordinator.publicKey)
                conf.tls = client
                conf.backoff = Backoff(initial: .milliseconds(50), maximum: .milliseconds(300))
                conf.tickInterval = .milliseconds(100)
                let c = RelayClient(nodeKey: n.key, configuration: conf, group: group,
                                    onReceive: { k, p in inbox.packets.withLock { $0.append((k, p)) } },
                                    onPeerGone: { k, r in inbox.gone.withLock { $0.append((k, r)) } })
                c.start()
                clients.append(c)
                nodes.append((n, inbox, c))
            }
            let (a, aInbox, aRelay) = nodes[0], (b, bInbox, bRelay) = nodes[1]
            #expect(await aRelay.waitUntilConnected())
            #expect(await bRelay.waitUntilConnected())
            #expect(aRelay.send(to: b.key.publicKey, packet: Array("before".utf8)))
            #expect(await eventually { bInbox.received(from: a.key.publicKey) == [Array("before".utf8)] })

            // A long-poll held open across the reload, answered by a change after it.
            let map = try await a.map()
            let poll = Task { try await a.map(since: map.version, wait: true) }

            let second = try live.renew(as: "second")
            #expect(tls.reload() == .reloaded(serial: second, previousSerial: first))
            #expect(try ca.servedSerial(port: server.port) == second)
            // New https connections work with the new certificate.
            let after = try await SimpleHTTPClient.request(https, method: "GET", path: "/", timeout: .seconds(10))
            #expect(after.status == 200)

            // The relay connections from before are the same connections, still working.
            #expect(bRelay.send(to: a.key.publicKey, packet: Array("after".utf8)))
            #expect(await eventually { aInbox.received(from: b.key.publicKey) == [Array("after".utf8)] })
            #expect(server.coordinator.relay.stats.packetsForwarded == 2)

            _ = try await TestNode(target: https, coordinatorKeyBytes: server.coordinator.publicKey.rawBytes)
                .register(token, hostname: "gamma")
            let changed = try await poll.value
            #expect((changed.peersChanged ?? changed.peers ?? []).contains { $0.name == "gamma" }, "\(changed)")

            // A failed reload leaves the second certificate in service.
            try live.replace(live.key, with: Data("garbage\n".utf8))
            guard case .failed(_, second) = tls.reload() else { Issue.record("a garbage key was loaded"); return }
            #expect(try ca.servedSerial(port: server.port) == second)

            // Plain HTTP on the TLS port is not answered as HTTP.
            await #expect(throws: (any Error).self) {
                _ = try await SimpleHTTPClient.request(server.target, method: "GET", path: "/", timeout: .seconds(5))
            }
            #expect(try await SimpleHTTPClient.request(https, method: "GET", path: "/", timeout: .seconds(10)).status == 200)
        } catch {
            Issue.record("\(error)")
        }
        for c in clients { await c.close() }
        try await server.stop()
        try? await group.shutdownGracefully()
    }

    /// `meshcoord relay --tls-cert/--tls-key`: the standalone relay's port speaks TLS too.
    @Test func aStandaloneRelayServesHTTPS() async throws {
        let ca = try TestCertificateAuthority()
        defer { ca.remove() }
        let live = LiveCertificateFiles(ca: ca)
        let serial = try live.renew(as: "relay")
        var c = StandaloneRelayConfig()
        c.stateDirectory = tempStateDir("tlsrelay")
        defer { try? FileManager.default.removeItem(atPath: c.stateDirectory) }
        c.listenHost = "127.0.0.1"
        c.listenPort = 0
        c.stunPorts = []
        // Nobody listens there: the relay keeps retrying, which does not stop it serving.
        c.coordinatorURL = "http://127.0.0.1:9"
        var entropy = SodiumEntropy()
        c.coordinatorKey = PrivateKey.generate(using: &entropy).publicKey.base64
        c.tlsCertificateFile = live.cert
        c.tlsKeyFile = live.key
        var logger = Logger(label: "test.relay")
        logger.logLevel = .critical
        let relay = try StandaloneRelay(config: c, logger: logger)
        let task = Task { try await relay.run(gracefulShutdownSignals: []) }
        do {
            let port = try await relay.waitUntilListening()
            #expect(relay.tls?.current.serial == serial)
            #expect(try ca.servedSerial(port: port) == serial)
            let https = SimpleHTTPClient.Target.tls(host: "127.0.0.1", port: port, client: try TLSClient(caFile: ca.caFile))
            let hello = try await SimpleHTTPClient.request(https, method: "GET", path: "/", timeout: .seconds(10))
            #expect(hello.status == 200 && hello.text.contains("meshcoord relay"), "\(hello.text)")
        } catch {
            Issue.record("\(error)")
        }
        await relay.shutdown()
        try await task.value
    }
}
