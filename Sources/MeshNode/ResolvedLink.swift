import Foundation
import Logging
import MeshDNS

/// The systemd-resolved side of MagicDNS: finds out whether resolved runs here, and gives the
/// TUN link its DNS server and routing domain with resolvectl (`ResolvedCommands`' argument
/// vectors). Each resolvectl run is bounded by `timeout`; a failure is logged, never fatal
/// (names then still resolve by address, and `dig @<MagicDNS address>` still answers).
public struct ResolvedLink: Sendable {
    public let interface: String
    public let logger: Logger
    public static let timeout: Duration = .seconds(3)

    public init(interface: String, logger: Logger) {
        self.interface = interface
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
        if argv.first == "resolvectl", let found = Self.findProgram("resolvectl") { argv[0] = found }
        let status = Self.run(argv)
        if status != 0 {
            logger.warning("systemd-resolved: \(argv.joined(separator: " ")) \(status.map { "exited \($0)" } ?? "did not finish in \(Self.timeout)")")
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

    /// The exit status, or nil when it could not start or ran past `timeout` (then killed).
    static func run(_ argv: [String]) -> Int32? {
        guard let program = argv.first else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = Array(argv.dropFirst())
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline {
                process.terminate()
                process.waitUntilExit()
                return nil
            }
            usleep(20_000)
        }
        return process.terminationStatus
    }
}
