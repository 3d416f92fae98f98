import Disco
import MagicSock
import MeshCrypto
import MeshIO
import Testing
import WireGuard

/// MagicSock draws every random byte from the source it is given and reads no clock of its own
/// on these paths: the same seed and the same inputs give the same datagrams, byte for byte.
@Suite struct MagicSockReplayTests {
    /// Discovery, 10 s of traffic, a 10 s cut of the direct path, 20 s after it returns.
    static func run(seed: UInt64) throws -> (sent: [TwoNodes.Packet], decisions: [Steering], kinds: Set<String>) {
        let net = try TwoNodes(seed: seed)
        var decisions: [Steering] = []
        for i in 0..<400 {
            if i == 100 { net.udpWorks = false }
            if i == 200 { net.udpWorks = true }
            decisions.append(Steering(net.step(.milliseconds(100))))
            _ = net.a.pathStatus()  // reads the injected clock: must change nothing
        }
        let kinds = Set(net.queue.sent.map { p -> String in
            let side = p.from == net.addrA ? "A" : "B", via = p.relayTo == nil ? "direct" : "relayed"
            switch net.message(in: p) {
            case .ping?: return "\(side) ping \(via)"
            case .pong?: return "\(side) pong \(via)"
            case .callMeMaybe?: return "\(side) callMeMaybe \(via)"
            case nil: return "unreadable"
            }
        })
        return (net.queue.sent, decisions, kinds)
    }

    @Test func sameSeedSameInputsSameDatagrams() throws {
        let first = try Self.run(seed: 7), second = try Self.run(seed: 7)
        // The run covers every kind of datagram and every decision there is to replay.
        #expect(first.kinds.isSuperset(of: ["A ping direct", "A pong direct", "A callMeMaybe relayed",
                                            "B ping direct", "B pong direct"]), "\(first.kinds.sorted())")
        #expect(!first.kinds.contains("unreadable"))
        #expect(Set(first.decisions.map(\.description)).count == 3, "relay, direct and both")
        // Compared packet by packet, so a failure names the first datagram that differs.
        #expect(first.sent.count == second.sent.count)
        let firstDifference = zip(first.sent, second.sent).enumerated().first { $0.element.0 != $0.element.1 }
        #expect(firstDifference == nil, "datagram \(firstDifference?.offset ?? -1) of \(first.sent.count) differs")
        #expect(first.decisions == second.decisions)
    }

    /// Another seed changes every datagram (each carries a fresh nonce, Pings a fresh
    /// transaction id) and nothing else: what is sent where and when is the same.
    @Test func anotherSeedChangesOnlyTheRandomBytes() throws {
        let a = try Self.run(seed: 7), b = try Self.run(seed: 8)
        #expect(a.decisions == b.decisions)
        try #require(a.sent.count == b.sent.count)
        for (x, y) in zip(a.sent, b.sent) {
            #expect(x.from == y.from && x.to == y.to && x.relayTo == y.relayTo && x.sentAt == y.sentAt)
            #expect(x.bytes.count == y.bytes.count && x.bytes != y.bytes)
        }
    }
}
