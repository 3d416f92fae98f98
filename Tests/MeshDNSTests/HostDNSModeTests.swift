import MeshDNS
import Testing

@Suite struct HostDNSModeTests {
    typealias Facts = HostDNSMode.Facts

    @Test func resolvedOnlyWhenItAnswers() {
        let running = Facts(resolvectl: "/usr/bin/resolvectl", resolvedRuntimeDirectory: true, resolvedAnswers: true)
        #expect(HostDNSMode.choose(running, manageResolvConf: false) == .systemdResolved)
        // Opting in to resolv.conf changes nothing where resolved owns name resolution.
        #expect(HostDNSMode.choose(running, manageResolvConf: true) == .systemdResolved)
    }

    @Test func absentWithoutTheBinaryTheDirectoryOrAnAnswer() {
        // What this machine has (no systemd): the probe never runs resolvectl.
        let cases = [Facts(resolvectl: nil, resolvedRuntimeDirectory: false, resolvedAnswers: nil),
                     Facts(resolvectl: "/usr/bin/resolvectl", resolvedRuntimeDirectory: false, resolvedAnswers: nil),
                     Facts(resolvectl: nil, resolvedRuntimeDirectory: true, resolvedAnswers: nil),
                     Facts(resolvectl: "/usr/bin/resolvectl", resolvedRuntimeDirectory: true, resolvedAnswers: false)]
        for facts in cases {
            #expect(!facts.resolvedPresent)
            #expect(HostDNSMode.choose(facts, manageResolvConf: true) == .resolvConf)
            guard case .none(let reason) = HostDNSMode.choose(facts, manageResolvConf: false) else {
                Issue.record("without the opt-in resolv.conf must stay untouched")
                continue
            }
            #expect(reason.contains(facts.resolvedAbsence))
        }
        #expect(HostDNSMode.summary(cases[0], .resolvConf)
            == "systemd-resolved is absent (no resolvectl on PATH): meshd manages /etc/resolv.conf (opted in)")
        #expect(!cases[0].worthAskingResolved && !cases[1].worthAskingResolved && cases[3].worthAskingResolved)
    }
}
