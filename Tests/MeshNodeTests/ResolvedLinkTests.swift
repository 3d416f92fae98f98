import Foundation
import Logging
import MeshDNS
import MeshNode
import Testing

/// systemd-resolved does not run here (no systemd): a stand-in resolvectl records what it is
/// asked, so the driver's probe and commands are checked, not resolved's answers.
@Suite struct ResolvedLinkTests {
    func standIn(exit code: Int, sleep seconds: Int = 0) throws -> (dir: String, program: String, log: String) {
        let dir = NSTemporaryDirectory() + "mesh-resolvectl-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let log = dir + "/argv.log", program = dir + "/resolvectl"
        let script = "#!/bin/sh\necho \"$*\" >> \(log)\n\(seconds > 0 ? "sleep \(seconds)\n" : "")exit \(code)\n"
        try Data(script.utf8).write(to: URL(fileURLWithPath: program))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: program)
        return (dir, program, log)
    }

    @Test func probeFindsResolvedOnlyWhenAllThreeHold() throws {
        let s = try standIn(exit: 0)
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        // No runtime directory: resolvectl is not even run.
        let without = ResolvedLink.probe(path: s.dir, runtimeDirectory: s.dir + "/absent")
        #expect(without == HostDNSMode.Facts(resolvectl: s.program, resolvedRuntimeDirectory: false, resolvedAnswers: nil))
        #expect(!FileManager.default.fileExists(atPath: s.log))
        let with = ResolvedLink.probe(path: s.dir, runtimeDirectory: s.dir)
        #expect(with.resolvedPresent)
        #expect((try? String(contentsOfFile: s.log, encoding: .utf8)) == "--no-pager status\n")
        let failing = try standIn(exit: 1)
        defer { try? FileManager.default.removeItem(atPath: failing.dir) }
        #expect(ResolvedLink.probe(path: failing.dir, runtimeDirectory: failing.dir).resolvedAnswers == false)
    }

    @Test func theProbeAgreesWithThisMachine() {
        // Here (no systemd) this is "absent", as meshd logs it in the lab; with resolved running it holds too.
        var isDirectory: ObjCBool = false
        let dir = FileManager.default.fileExists(atPath: "/run/systemd/resolve", isDirectory: &isDirectory) && isDirectory.boolValue
        let facts = ResolvedLink.probe()
        #expect(facts.resolvedRuntimeDirectory == dir)
        if !dir { #expect(!facts.resolvedPresent && facts.resolvedAnswers == nil) }
    }

    @Test func configureAndRevertRunTheArgumentVectors() throws {
        let s = try standIn(exit: 0)
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        let link = ResolvedLink(interface: "mesh0", program: s.program, logger: Logger(label: "resolved-test"))
        link.configure(dnsAddress: "100.100.100.100", domain: "mesh", reverseZones: ["64.100.in-addr.arpa"])
        link.revert()
        #expect((try? String(contentsOfFile: s.log, encoding: .utf8)) == """
            dns mesh0 100.100.100.100
            domain mesh0 ~mesh ~64.100.in-addr.arpa
            default-route mesh0 false
            revert mesh0

            """)
    }

    @Test func aHangingResolvectlIsCutOff() throws {
        let s = try standIn(exit: 0, sleep: 30)
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        let started = ContinuousClock.now
        #expect(ResolvedLink.probe(path: s.dir, runtimeDirectory: s.dir).resolvedAnswers == false)
        #expect(ContinuousClock.now - started < .seconds(6))
    }
}
