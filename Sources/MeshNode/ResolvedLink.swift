#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import MeshDNS

/// The systemd-resolved side of MagicDNS: finds out whether resolved runs here, and gives the
/// TUN link its DNS server and routing domain with resolvectl (`ResolvedCommands`' argument
/// vectors). Each resolvectl run is bounded by `timeout`; a failure is logged, never fatal
/// (names then still resolve by address, and `dig @<MagicDNS address>` still answers).
public struct ResolvedLink: Sendable {
    public let interface: String
    /// The resolvectl that runs (found on PATH, or given).
    public let program: String
    public let logger: Logger
    public static let timeout: Duration = .seconds(3)

    public init(interface: String, program: String? = nil, logger: Logger) {
        self.interface = interface
        self.program = program ?? Self.findProgram("resolvectl") ?? "/usr/bin/resolvectl"
        self.logger = logger
    }

    /// What `HostDNSMode.choose` needs to know; resolvectl runs (once) only when it and
    /// resolved's runtime directory both exist.
    public static func probe(path: String? = ProcessInfo.processInfo.environment["PATH"],
                             runtimeDirectory: String = "/run/systemd/resolve") -> HostDNSMode.Facts {
        let resolvectl = findProgram("resolvectl", path: path)
        var isDirectory: ObjCBool = false
        let dir = FileManager.default.fileExists(atPath: runtimeDirectory, isDirectory: &isDirectory) && isDirectory.boolValue
        var facts = HostDNSMode.Facts(resolvectl: resolvectl, resolvedRuntimeDirectory: dir, resolvedAnswers: nil)
        if facts.worthAskingResolved, let resolvectl {
            // resolvectl asks resolved over D-Bus; status exits 0 only when it answered.
            facts.resolvedAnswers = run([resolvectl, "--no-pager", "status"]) == 0
        }
        return facts
    }

    /// `reverseZones`: the overlay's (`ReverseZones.covering`), so PTR questions for peers'
    /// addresses reach MagicDNS too.
    public func configure(dnsAddress: String, domain: String, reverseZones: [String]) {
        for argv in ResolvedCommands.configure(interface: interface, dnsAddresses: [dnsAddress], domain: domain,
                                               reverseZones: reverseZones) {
            runLogged(argv)
        }
        logger.notice("systemd-resolved: \(interface) has DNS server \(dnsAddress) for ~\(domain)")
    }

    public func revert() {
        for argv in ResolvedCommands.revert(interface: interface) { runLogged(argv) }
        logger.info("systemd-resolved: DNS settings of \(interface) reverted")
    }

    private func runLogged(_ argv: [String]) {
        var argv = argv
        if argv.first == "resolvectl" { argv[0] = program }
        let status = Self.run(argv)
        if status != 0 {
            logger.warning("systemd-resolved: \(argv.joined(separator: " ")) \(status.map { "exited \($0)" } ?? "did not start or finish within \(Self.timeout)")")
        }
    }

    static func findProgram(_ name: String, path: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
        let dirs = (path ?? "").split(separator: ":").map(String.init) + ["/usr/bin", "/bin"]
        for dir in dirs where !dir.isEmpty {
            let candidate = dir + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The exit status; nil when it could not start, died of a signal, or ran past `timeout` (then it and
    /// whatever it started are killed). posix_spawn rather than Foundation's Process: meshd
    /// blocks SIGTERM/SIGINT/SIGHUP in every thread, and a child must not inherit that mask
    /// (nor survive its own timeout because of it); the child gets its own process group, so
    /// the kill reaches its children too. Output goes to /dev/null.
    static func run(_ argv: [String]) -> Int32? {
        guard !argv.isEmpty else { return nil }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t(), defaults = sigset_t()
        sigemptyset(&none)
        sigemptyset(&defaults)
        for sig in [SIGTERM, SIGINT, SIGHUP, SIGPIPE] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd in [STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO] {
            posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == STDIN_FILENO ? O_RDONLY : O_WRONLY, 0)
        }
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, argv[0], &actions, &attr, &cArgs, environ) == 0 else { return nil }
        let deadline = ContinuousClock.now + timeout
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { return nil }
            if ContinuousClock.now >= deadline {
                kill(-pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                return nil
            }
            usleep(10_000)
        }
        // WIFEXITED / WEXITSTATUS (macros Swift does not import)
        return status & 0x7F == 0 ? (status >> 8) & 0xFF : nil
    }
}
