import Foundation
import MeshConfig
import Testing

private func problem(_ text: String) -> String? {
    do { _ = try DaemonConfigFile.parse(text, file: "/etc/mesh/meshd.toml"); return nil } catch { return "\(error)" }
}

@Suite struct DaemonConfigFileTests {
    @Test func readsEveryKey() throws {
        let c = try DaemonConfigFile.parse("""
            \u{FEFF}# meshd as a service
            state_dir = "/var/lib/mesh"
            port = 41641            # the firewall's rule
            interface = "mesh0"
            socket = "/run/mesh/meshd.sock"
            join_file = "/etc/mesh/join-token"
            hostname = 'db-1'
            ca_file = "/etc/mesh/ca.pem"
            log_level = "debug"
            """, file: "f")
        #expect(c.stateDirectory == "/var/lib/mesh")
        #expect(c.port == 41641)
        #expect(c.interface == "mesh0")
        #expect(c.socket == "/run/mesh/meshd.sock")
        #expect(c.joinFile == "/etc/mesh/join-token")
        #expect(c.hostname == "db-1")
        #expect(c.caFile == "/etc/mesh/ca.pem")
        #expect(c.logLevel == .debug)
    }

    @Test func emptyAndCommentedFilesSetNothing() throws {
        #expect(try DaemonConfigFile.parse("", file: "f") == DaemonConfigFile())
        #expect(try DaemonConfigFile.parse("# port = 1\n\n   \n", file: "f") == DaemonConfigFile())
    }

    @Test func mistakesNameFileLineAndKey() {
        #expect(problem("\nprot = 1") == "/etc/mesh/meshd.toml:2: unknown key \"prot\" (known: \(DaemonConfigFile.knownKeys.joined(separator: ", ")))")
        #expect(DaemonConfigFile.knownKeys.starts(with: ["state_dir", "port", "interface", "socket", "join_file", "hostname", "ca_file", "log_level"]))
        #expect(problem("port = 1\nport = 2") == "/etc/mesh/meshd.toml:2: duplicate key \"port\" (first set on line 1)")
        #expect(problem("port = 65536")?.contains(":1: port must be a whole number 0-65535") == true)
        #expect(problem("port = -1")?.contains("port must be") == true)
        #expect(problem("port = 1.5")?.contains("port must be") == true)
        #expect(problem("port = \"41641\"")?.contains("port must be") == true)
        #expect(problem("log_level = \"loud\"")?.contains("log_level must be one of trace, debug, info") == true)
        #expect(problem("state_dir = /var/lib/mesh")?.contains(":1: state_dir: ") == true)
        #expect(problem("state_dir = \"\"")?.contains("state_dir is empty") == true)
        #expect(problem("interface = \"a-name-longer-than-15\"")?.contains("interface must be 1-15") == true)
        #expect(problem("interface = \"a/b\"")?.contains("interface must be") == true)
        #expect(problem("[peer]")?.contains("has no sections") == true)
        #expect(problem("just words")?.contains("expected key = value") == true)
    }

    @Test func hostileTextIsEscapedAndShortInErrors() {
        let p = problem("\u{1B}[31m" + String(repeating: "x", count: 500) + " = 1") ?? ""
        #expect(!p.contains("\u{1B}"))
        #expect(p.count < 300)
    }

    @Test func hugeNumbersDoNotTrap() {
        #expect(problem("port = 99999999999999999999999") != nil)
        #expect(problem("port = 1e300") != nil)
    }

    @Test func loadRefusesWhatIsNotAConfigFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("meshd-config-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("missing.toml").path
        #expect(throws: DaemonConfigFile.Problem.self) { try DaemonConfigFile.load(path: missing) }
        let big = dir.appendingPathComponent("big.toml")
        try Data(repeating: 0x23, count: (1 << 20) + 10).write(to: big)
        #expect(throws: DaemonConfigFile.Problem.self) { try DaemonConfigFile.load(path: big.path) }
        let good = dir.appendingPathComponent("meshd.toml")
        try Data("port = 7\n".utf8).write(to: good)
        #expect(try DaemonConfigFile.load(path: good.path).port == 7)
    }
}

@Suite struct DaemonConfigFileLineEndingTests {
    /// A file saved by a Windows editor: "\r\n" is one Character in Swift, so splitting on "\n"
    /// alone would see a single line.
    @Test func crlfLinesAreLines() throws {
        let c = try DaemonConfigFile.parse("port = 7\r\ninterface = \"mesh1\"\r\n", file: "f")
        #expect(c.port == 7)
        #expect(c.interface == "mesh1")
    }
}
