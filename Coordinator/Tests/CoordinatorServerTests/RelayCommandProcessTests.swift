import CoordinatorServer
import Foundation
import MeshHTTP
import MeshTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `meshcoord relay` as a process, the way an admin (or the lab test) runs it: no TTY, logs
/// on stderr, a clear message and a non-zero status for bad flags, a clean stop on SIGTERM.
@Suite(.serialized) struct RelayCommandProcessTests {
    static func value(_ key: String, in text: String) -> String? {
        guard let r = text.range(of: "\(key)=[^ \n]+", options: .regularExpression) else { return nil }
        return String(text[r].dropFirst(key.count + 1))
    }

    @Test func badFlagsAreOneClearLineAndANonZeroStatus() async throws {
        let dir = tempStateDir("rcmd-bad")
        let cases: [([String], String)] = [
            (["relay", "--state-dir", dir, "--listen", "127.0.0.1:0"], "--coordinator URL is required"),
            (["relay", "--state-dir", dir, "--coordinator", "http://127.0.0.1:9"], "--coordinator-key BASE64 is required"),
            (["relay", "--state-dir", dir, "--coordinator", "ftp://127.0.0.1:9", "--coordinator-key", "x"], "is not http://host"),
            (["relay", "--state-dir", dir, "--coordinator", "https://127.0.0.1:9", "--coordinator-key", "x",
              "--ca-file", dir + "/missing.pem"], "--ca-file: CA file"),
            (["relay", "--state-dir", dir, "--coordinator", "http://127.0.0.1:9", "--coordinator-key", "bm90IGEga2V5"], "--coordinator-key is not"),
            (["relay", "--state-dir", dir, "--stun-ports", "3478", "--coordinator", "http://127.0.0.1:9", "--coordinator-key", "x"], "two ports"),
            (["relay", "--state-dir", dir, "--listen", "127.0.0.1:99999"], "port must be a number"),
            (["relay", "--state-dir", dir, "--log-level", "loud"], "log level"),
            (["relay", "--no-such-flag"], "Unknown option"),
        ]
        for (args, message) in cases {
            let p = try MeshcoordProcess(args)
            let status = try await p.waitForExit()
            #expect(status != 0, "\(args) exited 0: \(p.text)")
            #expect(p.text.contains(message), "\(args): \(p.text)")
            #expect(!p.text.contains("Fatal error"))
        }
    }

    @Test func printKeyCreatesTheKeyOnceAndPrintsOnlyThePublicHalf() async throws {
        let dir = tempStateDir("rcmd-key") + "/new"
        let first = try MeshcoordProcess(["relay", "--state-dir", dir, "--print-key"])
        #expect(try await first.waitForExit() == 0)
        let second = try MeshcoordProcess(["relay", "--state-dir", dir, "--print-key"])
        #expect(try await second.waitForExit() == 0)
        let lines = second.text.split(separator: "\n").map(String.init)
        #expect(lines.count == 1, "\(second.text)")
        let key = lines.first ?? ""
        #expect(CoordinatorConfig.canonicalRelayKey(key) == key)
        #expect(first.text.contains(key))
        // The private key never shows; the file is 0600.
        let secret = try String(contentsOfFile: dir + "/relay.key", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!first.text.contains(secret) && !second.text.contains(secret))
        var st = stat()
        #expect(stat(dir + "/relay.key", &st) == 0 && st.st_mode & 0o777 == 0o600)
    }

    /// serve + relay processes: the relay logs its start line, gets the node list for its
    /// key from the coordinator, answers STUN on its ports, and stops on SIGTERM with status 0.
    @Test func aRelayProcessFollowsACoordinatorProcessAndStopsOnSIGTERM() async throws {
        let relayDir = tempStateDir("rcmd-relay")
        let keyProcess = try MeshcoordProcess(["relay", "--state-dir", relayDir, "--print-key"])
        #expect(try await keyProcess.waitForExit() == 0)
        let relayKey = keyProcess.text.split(separator: "\n").last.map(String.init) ?? ""

        let coordDir = tempStateDir("rcmd-coord")
        let config = coordDir + "/meshcoord.toml"
        try """
            [[relay]]
            id = "second"
            url = "http://127.0.0.1:9/relay"
            key = "\(relayKey)"
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let coordinator = try MeshcoordProcess(["serve", "--config", config, "--state-dir", coordDir, "--listen", "127.0.0.1:0",
                                                "--stun-ports", "none"])
        defer { if coordinator.process.isRunning { coordinator.process.terminate() } }
        let coordPort = try await coordinator.waitForPort()
        let coordinatorKey = try #require(Self.value("coordinator_key", in: coordinator.text))

        let relay = try MeshcoordProcess(["relay", "--state-dir", relayDir, "--listen", "127.0.0.1:0", "--stun-ports", "0,0",
                                          "--coordinator", "http://127.0.0.1:\(coordPort)", "--coordinator-key", coordinatorKey])
        defer { if relay.process.isRunning { relay.kill9() } }
        let port = try await relay.waitForPort()
        #expect(relay.text.contains("meshcoord relay listening"), "\(relay.text)")
        #expect(Self.value("relay_key", in: relay.text) == relayKey, "\(relay.text)")
        let stun = try #require(Self.value("stun_ports", in: relay.text))
        #expect(stun.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }.count == 2, "\(stun)")

        #expect(await eventually(within: .seconds(10), pollingEvery: .milliseconds(20)) {
            relay.text.contains("authorized node list received")
        }, "\(relay.text)")
        let hello = try await SimpleHTTPClient.request(.tcp(host: "127.0.0.1", port: port), method: "GET", path: "/")
        #expect(hello.text.contains("meshcoord relay"))

        // SIGTERM while its long-poll waits at the coordinator: a prompt, clean exit.
        let t0 = ContinuousClock.now
        kill(relay.process.processIdentifier, SIGTERM)
        #expect(try await relay.waitForExit() == 0, "\(relay.text)")
        #expect(ContinuousClock.now - t0 < .seconds(5))
        #expect(relay.text.contains("meshcoord relay stopped"))
        #expect(!relay.text.contains("Fatal error"))
        coordinator.process.terminate()
        #expect(try await coordinator.waitForExit() == 0)
    }
}
