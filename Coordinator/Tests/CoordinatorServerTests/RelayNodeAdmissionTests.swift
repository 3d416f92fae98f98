import CoordinatorServer
import Foundation
import MeshCrypto
import MeshWire
import Testing

/// What a relay on another host admits, given the coordinator's answers (no sockets).
@Suite struct RelayNodeAdmissionTests {
    static func keys(_ n: Int) -> [String] {
        var e = SodiumEntropy()
        return (0..<n).map { _ in PrivateKey.generate(using: &e).publicKey.base64 }
    }

    @Test func nobodyIsAdmittedBeforeTheFirstList() {
        let k = Self.keys(1)[0]
        var a = RelayNodeAdmission()
        #expect(!a.isReady && a.sinceVersion == nil && !a.admits(k))
        // "Unchanged" cannot open the gate: there is nothing it could be unchanged from.
        #expect(a.apply(RelayNodesResponse(version: 3, nodeKeys: nil)) == .refused(
            "the coordinator answered \"unchanged\" to a request without a version"))
        #expect(!a.isReady && a.sinceVersion == nil && !a.admits(k))
        // An empty first list opens nothing either, but the relay is now in step.
        #expect(a.apply(RelayNodesResponse(version: 4, nodeKeys: [])) == .changed(.init(admitted: [], revoked: [], malformed: 0)))
        #expect(a.isReady && a.sinceVersion == 4 && !a.admits(k))
    }

    @Test func answersAdmitAndRevokeTheDifference() {
        let k = Self.keys(4).sorted()
        var a = RelayNodeAdmission()
        #expect(a.apply(RelayNodesResponse(version: 10, nodeKeys: [k[0], k[1], k[2]]))
                == .changed(.init(admitted: [k[0], k[1], k[2]], revoked: [], malformed: 0)))
        #expect(a.admits(k[0]) && a.admits(k[1]) && a.admits(k[2]) && !a.admits(k[3]))

        // Unchanged: only the version moves.
        #expect(a.apply(RelayNodesResponse(version: 12, nodeKeys: nil)) == .unchanged)
        #expect(a.sinceVersion == 12 && a.admitted == [k[0], k[1], k[2]])

        // k1 expired, k3 joined.
        #expect(a.apply(RelayNodesResponse(version: 13, nodeKeys: [k[2], k[0], k[3]]))
                == .changed(.init(admitted: [k[3]], revoked: [k[1]], malformed: 0)))
        #expect(!a.admits(k[1]) && a.admits(k[3]))

        // Everyone gone.
        #expect(a.apply(RelayNodesResponse(version: 14, nodeKeys: []))
                == .changed(.init(admitted: [], revoked: [k[0], k[2], k[3]], malformed: 0)))
        #expect(a.admitted.isEmpty && a.isReady)
    }

    @Test func malformedEntriesAreSkippedAndKeysAreCanonical() {
        let k = Self.keys(2)
        var a = RelayNodeAdmission()
        let noisy = [k[0], "not a key", Base64.encode([1, 2, 3]), String(repeating: "A", count: 5000), k[1], k[1]]
        #expect(a.apply(RelayNodesResponse(version: 1, nodeKeys: noisy))
                == .changed(.init(admitted: k.sorted(), revoked: [], malformed: 3)))
        #expect(a.admitted.count == 2)
        // Lookups go by PublicKey.base64, which is what the relay's authorizer has.
        let shared = SharedRelayAdmission(a)
        #expect(shared.admits(try! PublicKey(base64: k[0])))
        var e = SodiumEntropy()
        #expect(!shared.admits(PrivateKey.generate(using: &e).publicKey))
    }

    @Test func anOversizedAnswerKeepsTheLastGoodSet() {
        let k = Self.keys(4)
        var a = RelayNodeAdmission(maxKeys: 3)
        _ = a.apply(RelayNodesResponse(version: 5, nodeKeys: [k[0]]))
        guard case .refused(let why) = a.apply(RelayNodesResponse(version: 6, nodeKeys: k)) else {
            Issue.record("4 keys over a cap of 3 were accepted")
            return
        }
        #expect(why.contains("4 node keys"))
        #expect(a.sinceVersion == 5 && a.admitted == [k[0]])
    }

    @Test func aRestoredCoordinatorWithALowerVersionStillReplacesTheSet() {
        let k = Self.keys(2)
        var a = RelayNodeAdmission()
        _ = a.apply(RelayNodesResponse(version: 900, nodeKeys: [k[0]]))
        #expect(a.apply(RelayNodesResponse(version: 7, nodeKeys: [k[1]])) == .changed(.init(admitted: [k[1]], revoked: [k[0]], malformed: 0)))
        #expect(a.sinceVersion == 7)
    }
}

/// Retry timing and log rate-limiting of the relay's node-list poll.
@Suite struct RelayNodesPollScheduleTests {
    @Test func delaysDoubleUpToTheCapWithJitter() {
        var s = RelayNodesPollSchedule(initialDelay: 0.5, maximumDelay: 30, reportInterval: 60)
        var delays: [Double] = []
        for i in 0..<10 { delays.append(s.failed(now: Double(i), random: 0.5).delay) }
        #expect(delays == [0.5, 1, 2, 4, 8, 16, 30, 30, 30, 30])
        #expect(s.consecutiveFailures == 10)
        // Jitter stays within [0.75, 1.25) of the base and never over the cap.
        var t = RelayNodesPollSchedule(initialDelay: 1, maximumDelay: 30)
        #expect(t.failed(now: 0, random: 0).delay == 0.75)
        #expect(t.failed(now: 0, random: 0.999_999).delay < 2.5)
        for _ in 0..<100 { #expect(t.failed(now: 0, random: 1).delay <= 30) }
        // Out-of-range draws and many failures do not trap.
        var u = RelayNodesPollSchedule()
        for _ in 0..<200 { _ = u.failed(now: .infinity, random: .nan) }
        #expect(u.failed(now: 0, random: -5).delay <= 30)
    }

    @Test func failuresAreReportedAtOnceThenAtMostOncePerInterval() {
        var s = RelayNodesPollSchedule(initialDelay: 0.5, maximumDelay: 30, reportInterval: 60)
        #expect(s.failed(now: 100, random: 0).report == 1)
        #expect(s.failed(now: 101, random: 0).report == nil)
        #expect(s.failed(now: 130, random: 0).report == nil)
        #expect(s.failed(now: 159.9, random: 0).report == nil)
        #expect(s.failed(now: 160, random: 0).report == 4)
        #expect(s.failed(now: 161, random: 0).report == nil)
        // Success ends the run (and says how long it was); the next failure is news again.
        #expect(s.succeeded() == 6)
        #expect(s.succeeded() == 0)
        #expect(s.consecutiveFailures == 0)
        #expect(s.failed(now: 162, random: 0.5) == (delay: 0.5, report: 1))
    }
}
