import CoordinatorServer
import Foundation
import MeshCrypto
import MeshIO
import MeshNode
import MeshTestSupport
import MeshWire
import Testing
import WireGuard

@Suite(.serialized) struct ControlClientTests {
    @Test func joinFollowAndRemove() async throws {
        let server = try await TestCoordinator.start("follow")
        let token = try await server.authKey(reusable: true)
        let a = try TestMeshNode(name: "alpha", token: token, dir: StateDirectory(path: tempStateDir("a")), endpoints: ["192.0.2.1:41641"])
        let ra = try await a.loop.registerUntilRefused()
        #expect(ra.name == "alpha" && ra.ipv4.hasPrefix("100.") && ra.ipv6.hasPrefix("fd"))
        #expect(try a.dir.loadRegistration()?.nodeID == ra.nodeID)
        // The device side: diffs applied to a real WireGuard device.
        let device = Device(privateKey: try PrivateKey(rawBytes: a.keyBytes))
        let sync = DevicePeerSync(device: device)
        let aDiffs = a.loop.onPeers
        a.loop.onPeers = { diff, state in
            sync.apply(diff, now: SystemClock.now())
            aDiffs?(diff, state)
        }
        a.loop.start()
        defer { a.loop.stop() }
        #expect(await eventually(within: .seconds(5)) { a.loop.status.phase == .connected && a.loop.status.netmap.hasFullMap })
        #expect(a.peerIDs.isEmpty)

        let b = try TestMeshNode(name: "bravo", token: token, dir: StateDirectory(path: tempStateDir("b")), endpoints: ["203.0.113.2:41641"])
        let rb = try await b.loop.registerUntilRefused()
        b.loop.start()
        defer { b.loop.stop() }
        // B appears at A well before the coordinator's 50 s long-poll hold ends: it was pushed.
        #expect(await eventually(within: .seconds(5)) { a.peerIDs.contains(rb.nodeID) })
        // B's full map holds A with the endpoint A published.
        #expect(await eventually(within: .seconds(5)) { b.loop.status.netmap.peers[ra.nodeID]?.endpoints == ["192.0.2.1:41641"] })
        // And A learns B's endpoint; its device gets the peer with B's overlay addresses and endpoint.
        #expect(await eventually(within: .seconds(5)) { a.loop.status.netmap.peers[rb.nodeID]?.endpoints == ["203.0.113.2:41641"] })
        let bKey = try PrivateKey(rawBytes: b.keyBytes).publicKey
        #expect(await eventually(within: .seconds(5)) { device.peer(for: bKey)?.currentEndpoint?.description == "203.0.113.2:41641" })
        #expect(sync.installed[rb.nodeID]?.allowedIPs == ["\(rb.ipv4)/32", "\(rb.ipv6)/128"])

        // The admin removes B: A drops it (pushed, not at the end of a poll), B learns it is out.
        try await server.removeNode(rb.nodeID)
        #expect(await eventually(within: .seconds(5)) { !a.peerIDs.contains(rb.nodeID) })
        #expect(await eventually(within: .seconds(5)) { device.peer(for: bKey) == nil })
        #expect(a.diffs.contains { $0.removed.map(\.id) == [rb.nodeID] })
        #expect(await eventually(within: .seconds(5)) { b.loop.status.phase == .removed })
        // B does not come back on its own (its token is reusable): its loop has stopped.
        try await Task.sleep(for: .milliseconds(700))
        #expect(b.loop.status.phase == .removed && b.loop.status.netmap.peers.isEmpty)
        #expect(!a.peerIDs.contains(rb.nodeID) && a.peerIDs.isEmpty)
        try await server.stop()
    }

    @Test func restartReusesIdentity() async throws {
        let server = try await TestCoordinator.start("restart")
        let token = try await server.authKey(reusable: false)
        let dir = StateDirectory(path: tempStateDir("r"))
        let first = try TestMeshNode(name: "laptop", token: token, dir: dir)
        let r1 = try await first.loop.registerUntilRefused()
        var st = stat()
        #expect(stat(dir.nodeKeyPath, &st) == 0 && st.st_mode & 0o777 == 0o600)
        #expect(stat(dir.registrationPath, &st) == 0 && st.st_mode & 0o777 == 0o600)

        // A restart: same key from the state dir, no auth secret needed, the same node comes back.
        let second = try TestMeshNode(name: "laptop", token: nil, dir: dir)
        #expect(second.keyBytes == first.keyBytes)
        let r2 = try await second.loop.registerUntilRefused()
        #expect(r2.nodeID == r1.nodeID && r2.ipv4 == r1.ipv4 && r2.ipv6 == r1.ipv6 && r2.name == r1.name)
        // Even with the (single-use, already used) token again, as `meshd up --join` on restart does.
        let third = try TestMeshNode(name: "laptop", token: token, dir: dir)
        let r3 = try await third.loop.registerUntilRefused()
        #expect(r3.nodeID == r1.nodeID)
        let saved = try #require(try dir.loadRegistration())
        #expect(saved.matches(token) && saved.ipv4 == r1.ipv4 && saved.nodeID == r1.nodeID)
        try await server.stop()
    }

    @Test func refusedAuthSaysWhy() async throws {
        let server = try await TestCoordinator.start("refuse")
        var token = try await server.authKey()
        token.secret = [UInt8](repeating: 7, count: 32)
        let n = try TestMeshNode(name: "x", token: token, dir: StateDirectory(path: tempStateDir("x")))
        do {
            _ = try await n.loop.registerUntilRefused()
            Issue.record("registration with an unknown auth key succeeded")
        } catch let e as ControlError {
            #expect(e.code == .authKeyUnknown)
            #expect("\(e)".contains("auth key is not known"))
            #expect(n.loop.status.phase == .refused)
        }
        try await server.stop()
    }

    @Test func survivesCoordinatorOutage() async throws {
        let stateDir = tempStateDir("outage")
        var server = try await TestCoordinator.start("outage", dir: stateDir)
        let port = server.port
        let token = try await server.authKey(reusable: true)
        let a = try TestMeshNode(name: "a", token: token, dir: StateDirectory(path: tempStateDir("oa")))
        let b = try TestMeshNode(name: "b", token: token, dir: StateDirectory(path: tempStateDir("ob")))
        let ra = try await a.loop.registerUntilRefused()
        let rb = try await b.loop.registerUntilRefused()
        a.loop.start()
        defer { a.loop.stop() }
        #expect(await eventually(within: .seconds(5)) { a.peerIDs == [rb.nodeID] })
        try await server.stop()
        #expect(await eventually(within: .seconds(5)) { a.loop.status.phase == .unreachable })
        // The peers stay while the coordinator is away.
        #expect(a.peerIDs == [rb.nodeID])
        #expect(!a.diffs.contains { !$0.removed.isEmpty })
        server = try await TestCoordinator.start("outage", dir: stateDir, port: port)
        #expect(await eventually(within: .seconds(5)) { a.loop.status.phase == .connected }, "\(a.loop.status.phase) \(a.loop.status.lastError ?? "")")
        // A node joining after the outage shows up.
        let c = try TestMeshNode(name: "c", token: token, dir: StateDirectory(path: tempStateDir("oc")))
        let rc = try await c.loop.registerUntilRefused()
        #expect(await eventually(within: .seconds(5)) { a.peerIDs == [rb.nodeID, rc.nodeID] })
        _ = ra
        try await server.stop()
    }

    /// A node restarted while the coordinator is down starts from the netmap it saved; once the
    /// coordinator is back, its full map replaces the saved one (a peer removed meanwhile goes).
    @Test func restartDuringOutageStartsFromSavedNetmap() async throws {
        let stateDir = tempStateDir("resume")
        var server = try await TestCoordinator.start("resume", dir: stateDir)
        let port = server.port
        let token = try await server.authKey(reusable: true)
        let dir = StateDirectory(path: tempStateDir("ra"))
        let a = try TestMeshNode(name: "a", token: token, dir: dir)
        _ = try await a.loop.registerUntilRefused()
        let b = try TestMeshNode(name: "b", token: token, dir: StateDirectory(path: tempStateDir("rb")))
        let rb = try await b.loop.registerUntilRefused()
        let c = try TestMeshNode(name: "c", token: token, dir: StateDirectory(path: tempStateDir("rc")))
        let rc = try await c.loop.registerUntilRefused()
        a.loop.start()
        #expect(await eventually(within: .seconds(5)) {
            let r = try? dir.loadRegistration()
            return r.flatMap { try? dir.loadNetmap(for: $0) }.map { Set($0.peers.keys) } == [rb.nodeID, rc.nodeID]
        })
        var st = stat()
        #expect(stat(dir.netmapPath, &st) == 0 && st.st_mode & 0o777 == 0o600)
        a.loop.stop()
        try await server.stop()

        let restarted = try TestMeshNode(name: "a", token: nil, dir: dir, restore: true)
        #expect(restarted.peerIDs == [rb.nodeID, rc.nodeID])
        #expect(restarted.loop.status.netmap.sinceVersion == nil, "the first request after a restart asks for a full map")
        restarted.loop.start()
        defer { restarted.loop.stop() }
        #expect(await eventually(within: .seconds(5)) { restarted.loop.status.phase == .unreachable })
        #expect(restarted.peerIDs == [rb.nodeID, rc.nodeID])

        server = try await TestCoordinator.start("resume", dir: stateDir, port: port)
        try await server.removeNode(rc.nodeID)
        #expect(await eventually(within: .seconds(10)) { restarted.peerIDs == [rb.nodeID] })
        #expect(restarted.diffs.contains { $0.removed.map(\.id) == [rc.nodeID] })
        try await server.stop()
    }

    @Test func coordinatorURLs() throws {
        let (t, p) = try ControlClient.parse(url: "http://192.0.2.1:8080")
        #expect("\(t)" == "192.0.2.1:8080" && p == "")
        let (t2, p2) = try ControlClient.parse(url: "http://[2001:db8::1]:9/mesh/")
        #expect("\(t2)" == "2001:db8::1:9" && p2 == "/mesh")
        let (t3, _) = try ControlClient.parse(url: "http://coord.example")
        #expect("\(t3)" == "coord.example:80")
        let (t4, p4) = try ControlClient.parse(url: "https://mesh.example.com/")
        #expect("\(t4)" == "mesh.example.com:443 (TLS)" && p4 == "")
        let (t5, _) = try ControlClient.parse(url: "https://[2001:db8::1]:8443/mesh")
        #expect("\(t5)" == "2001:db8::1:8443 (TLS)")
        for bad in ["http://h:99999", "ftp://coord.example", "https://", "http://user@h/", "coord.example:80"] {
            #expect(throws: ControlError.self, "\(bad)") { try ControlClient.parse(url: bad) }
        }
    }
}
