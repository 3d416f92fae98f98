import CoordinatorServer
import Foundation
import MeshCrypto
import MeshHTTP
import MeshTestSupport
import MeshWire
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The built `meshcoord` binary, next to the test bundle.
func meshcoordBinary() throws -> String {
    var candidates: [String] = []
    let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var dir = me.deletingLastPathComponent()
    for _ in 0..<4 {
        candidates.append(dir.appendingPathComponent("meshcoord").path)
        dir = dir.deletingLastPathComponent()
    }
    let cwd = FileManager.default.currentDirectoryPath
    candidates += [cwd + "/.build/release/meshcoord", cwd + "/.build/debug/meshcoord"]
    guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw SimpleHTTPClient.ClientError("meshcoord binary not found (looked in \(candidates)); run swift build first")
    }
    return found
}

/// A `meshcoord` child process with its stderr collected. Sendable by hand: `output` is
/// guarded by `lock` (the pipe's reader appends from its own thread).
final class MeshcoordProcess: @unchecked Sendable {
    let process = Process()
    private let pipe = Pipe()
    private let lock = NSLock()
    private var output = ""

    /// `wrapper` runs meshcoord through another program (e.g. `prlimit --nofile=1024:1024`).
    init(_ args: [String], wrapper: [String] = []) throws {
        if let tool = wrapper.first {
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = Array(wrapper.dropFirst()) + [try meshcoordBinary()] + args
        } else {
            process.executableURL = URL(fileURLWithPath: try meshcoordBinary())
            process.arguments = args
        }
        process.standardError = pipe
        process.standardOutput = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.lock()
            self.output += String(decoding: d, as: UTF8.self)
            self.lock.unlock()
        }
        try process.run()
    }

    var text: String { lock.lock(); defer { lock.unlock() }; return output }

    /// Waits for the "node API listening" log line and returns the port.
    func waitForPort(timeout: Duration = .seconds(30)) async throws -> Int {
        var port: Int?
        _ = await eventually(within: timeout, pollingEvery: .milliseconds(20)) {
            port = listeningPort
            return port != nil || !process.isRunning
        }
        if let port { return port }
        guard process.isRunning else { throw SimpleHTTPClient.ClientError("meshcoord exited: \(text)") }
        throw SimpleHTTPClient.ClientError("meshcoord did not start listening: \(text)")
    }

    private var listeningPort: Int? {
        let text = text
        guard let r = text.range(of: #"address=127\.0\.0\.1:(\d+)"#, options: .regularExpression) else { return nil }
        let s = text[r]
        return Int(s[s.index(after: s.lastIndex(of: ":")!)...])!
    }

    /// Waits for exit; returns the status.
    func waitForExit(timeout: Duration = .seconds(30)) async throws -> Int32 {
        guard await eventually(within: timeout, pollingEvery: .milliseconds(20), { !process.isRunning }) else {
            kill(process.processIdentifier, SIGKILL)
            throw SimpleHTTPClient.ClientError("meshcoord did not exit: \(text)")
        }
        try await Task.sleep(for: .milliseconds(50))  // let the last output arrive
        return process.terminationStatus
    }

    func kill9() { kill(process.processIdentifier, SIGKILL) }
}

/// Registrations answered so far, appended from many tasks. Sendable by hand: `items` is guarded by `lock`.
final class Answered: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [(TestNode, RegisterResponse)] = []
    func add(_ n: TestNode, _ r: RegisterResponse) { lock.lock(); items.append((n, r)); lock.unlock() }
    var all: [(TestNode, RegisterResponse)] { lock.lock(); defer { lock.unlock() }; return items }
}

@Suite(.serialized) struct ProcessTests {
    /// SIGKILL while registrations are under way: after a restart every answered registration
    /// is there, with the same addresses and name.
    @Test func sigkillLosesNoAnsweredRegistration() async throws {
        let dir = tempStateDir("kill")
        let args = ["serve", "--state-dir", dir, "--listen", "127.0.0.1:0", "--stun-ports", "none"]
        let first = try MeshcoordProcess(args)
        let port = try await first.waitForPort()
        let admin = SimpleHTTPClient.Target.unix(path: dir + "/admin.sock")
        let created = try await SimpleHTTPClient.request(admin, method: "POST", path: "/v1/authkeys",
                                                         body: Array(#"{"reusable":true}"#.utf8))
        let token = try JoinToken(parsing: try JSONDecoder().decode(AdminCreateAuthKeyResponse.self, from: Data(created.body)).token)
        let target = SimpleHTTPClient.Target.tcp(host: "127.0.0.1", port: port)
        let coordinatorKey = token.coordinatorKeyBytes
        let answered = Answered()
        let workers = Task {
            await withTaskGroup(of: Void.self) { g in
                for _ in 0..<24 {
                    g.addTask {
                        while true {
                            let n = TestNode(target: target, coordinatorKeyBytes: coordinatorKey)
                            guard let r = try? await n.register(token, hostname: "box") else { return }
                            answered.add(n, r)
                        }
                    }
                }
            }
        }
        #expect(await eventually(within: .seconds(60)) { answered.all.count >= 150 }, "only \(answered.all.count) answered")
        first.kill9()
        await workers.value
        #expect(try await first.waitForExit() == 9 || first.process.terminationReason == .uncaughtSignal)
        let before = answered.all
        print("SIGKILL after \(before.count) answered registrations")

        let second = try MeshcoordProcess(args)
        defer { second.process.terminate() }
        let port2 = try await second.waitForPort()
        let list = try await SimpleHTTPClient.request(admin, method: "GET", path: "/v1/nodes")
        let nodes = try JSONDecoder().decode([AdminNode].self, from: Data(list.body))
        let byKey = Dictionary(nodes.map { ($0.nodeKey, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(nodes.count >= before.count)
        for (n, r) in before {
            let stored = byKey[n.publicKeyBase64]
            #expect(stored != nil, "answered registration \(r.name) lost")
            #expect(stored?.ipv4 == r.ipv4 && stored?.ipv6 == r.ipv6 && stored?.name == r.name && stored?.id == r.nodeID)
        }
        #expect(Set(nodes.map(\.ipv4)).count == nodes.count)
        #expect(Set(nodes.map(\.ipv6)).count == nodes.count)
        // An answered node re-registers (e.g. after its answer was lost) and keeps its addresses.
        var again = before[0].0
        again.target = .tcp(host: "127.0.0.1", port: port2)
        let re = try await again.register(secret: nil, hostname: "box")
        #expect(re.ipv4 == before[0].1.ipv4)
        // New registrations never reuse an address.
        var fresh = TestNode(target: .tcp(host: "127.0.0.1", port: port2), coordinatorKeyBytes: coordinatorKey)
        fresh.target = .tcp(host: "127.0.0.1", port: port2)
        let newOne = try await fresh.register(token)
        #expect(!nodes.map(\.ipv4).contains(newOne.ipv4))
        // SIGTERM: clean shutdown.
        second.process.terminate()
        #expect(try await second.waitForExit() == 0)
        #expect(second.text.contains("meshcoord stopped"))
    }

    @Test func corruptedDatabaseIsACleanErrorAtStart() async throws {
        let dir = tempStateDir("corrupt")
        _ = FileManager.default.createFile(atPath: dir + "/meshcoord.sqlite", contents: Data((0..<16384).map { UInt8(truncatingIfNeeded: $0 &* 7) }))
        let p = try MeshcoordProcess(["serve", "--state-dir", dir, "--listen", "127.0.0.1:0", "--stun-ports", "none"])
        #expect(try await p.waitForExit() == 1)
        #expect(p.text.contains("meshcoord: "), "\(p.text)")
        #expect(p.text.contains("not an SQLite database") || p.text.contains("corrupted"), "\(p.text)")
        #expect(!p.text.contains("Fatal error"))
    }

    @Test func unwritableStateDirectoryIsACleanErrorAtStart() async throws {
        // A path below a regular file cannot be created, even by root.
        let base = tempStateDir("unwritable")
        _ = FileManager.default.createFile(atPath: base + "/file", contents: Data("x".utf8))
        let p = try MeshcoordProcess(["serve", "--state-dir", base + "/file/state", "--listen", "127.0.0.1:0", "--stun-ports", "none"])
        #expect(try await p.waitForExit() == 1)
        #expect(p.text.contains("cannot create state directory"), "\(p.text)")
        // A database file that cannot be opened (a directory in its place).
        let dir = tempStateDir("dbdir")
        try FileManager.default.createDirectory(atPath: dir + "/meshcoord.sqlite", withIntermediateDirectories: true)
        let q = try MeshcoordProcess(["serve", "--state-dir", dir, "--listen", "127.0.0.1:0", "--stun-ports", "none"])
        #expect(try await q.waitForExit() == 1)
        #expect(q.text.contains("meshcoord.sqlite"), "\(q.text)")
        // Not root: a read-only directory.
        if getuid() != 0 {
            let ro = tempStateDir("ro")
            chmod(ro, 0o500)
            let r = try MeshcoordProcess(["serve", "--state-dir", ro, "--listen", "127.0.0.1:0", "--stun-ports", "none"])
            #expect(try await r.waitForExit() == 1)
            #expect(r.text.contains("not writable"), "\(r.text)")
        }
    }

    @Test func badConfigNamesTheLineAndKey() async throws {
        let dir = tempStateDir("cfg")
        let path = dir + "/meshcoord.toml"
        try "# test\nstate_dir = \"\(dir)\"\nlisen = \"127.0.0.1:0\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        let p = try MeshcoordProcess(["serve", "--config", path])
        #expect(try await p.waitForExit() == 1)
        #expect(p.text.contains("\(path):3: unknown key \"lisen\""), "\(p.text)")
    }

    @Test func adminCommandsWithoutServerSayItIsNotRunning() async throws {
        let dir = tempStateDir("norun")
        let p = try MeshcoordProcess(["node", "list", "--state-dir", dir])
        #expect(try await p.waitForExit() == 1)
        #expect(p.text.contains("meshcoord is not running"), "\(p.text)")
    }

    @Test func cliEndToEnd() async throws {
        let dir = tempStateDir("cli")
        let server = try MeshcoordProcess(["serve", "--state-dir", dir, "--listen", "127.0.0.1:0", "--stun-ports", "0,0",
                                           "--public-url", "http://coord.example:8080"])
        defer { server.process.terminate() }
        let port = try await server.waitForPort()
        func run(_ args: [String]) async throws -> (Int32, String) {
            let p = try MeshcoordProcess(args + ["--state-dir", dir])
            let status = try await p.waitForExit()
            return (status, p.text)
        }
        let (s1, out1) = try await run(["authkey", "create", "--expiry", "1h", "--tag", "tag:ci"])
        #expect(s1 == 0, "\(out1)")
        let tokenLine = try #require(out1.split(separator: "\n").first { $0.hasPrefix("mesh1_") })
        let token = try JoinToken(parsing: String(tokenLine))
        #expect(token.coordinatorURL == "http://coord.example:8080")
        #expect(out1.contains("single-use") && out1.contains("tag:ci"))
        // A node joins with it.
        let node = TestNode(target: .tcp(host: "127.0.0.1", port: port), coordinatorKeyBytes: token.coordinatorKeyBytes)
        let reg = try await node.register(token, hostname: "build-agent")
        let (s2, out2) = try await run(["node", "list"])
        #expect(s2 == 0)
        #expect(out2.contains("build-agent") && out2.contains(reg.ipv4) && out2.contains("ID") && out2.contains("LAST SEEN"), "\(out2)")
        let (_, json) = try await run(["node", "list", "--json"])
        let listed = try JSONDecoder().decode([AdminNode].self, from: Data(json.utf8))
        #expect(listed.first?.tags == ["tag:ci"])
        #expect(try await run(["node", "rename", "\(reg.nodeID)", "ci-1"]).0 == 0)
        let (s3, out3) = try await run(["node", "rename", "\(reg.nodeID)", "Not Valid"])
        #expect(s3 == 1 && out3.contains("not a valid name"), "\(out3)")
        #expect(try await run(["authkey", "list"]).1.contains("used"))
        #expect(try await run(["authkey", "revoke", "1"]).1.contains("revoked"))
        #expect(try await run(["node", "expire", "\(reg.nodeID)"]).0 == 0)
        #expect(try await run(["node", "remove", "\(reg.nodeID)"]).0 == 0)
        let (s4, out4) = try await run(["node", "remove", "\(reg.nodeID)"])
        #expect(s4 == 1 && out4.contains("no node with id"), "\(out4)")
        let (s5, out5) = try await run(["authkey", "create", "--expiry", "tomorrow"])
        #expect(s5 != 0 && out5.contains("duration"), "\(out5)")
        // Health shows STUN running on its two ports.
        let health = try await SimpleHTTPClient.request(.unix(path: dir + "/admin.sock"), method: "GET", path: "/v1/health")
        let h = try JSONDecoder().decode(AdminHealth.self, from: Data(health.body))
        #expect(h.stunRunning && h.stunPorts.count == 2)
        // The admin socket is private.
        var st = stat()
        #expect(stat(dir + "/admin.sock", &st) == 0 && st.st_mode & 0o777 == 0o600)
        #expect(stat(dir + "/coordinator.key", &st) == 0 && st.st_mode & 0o777 == 0o600)
    }
}
