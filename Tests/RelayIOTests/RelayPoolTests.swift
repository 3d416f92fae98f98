import Logging
import MeshCrypto
import MeshTestSupport
import MeshWire
import NIOPosix
import Relay
import RelayIO
import Synchronization
import Testing

/// Two real relay servers on loopback and two nodes' pools: the failover the lab test
/// mesh_relay_regions.sh shows across namespaces, here in-process and fast.
@Suite struct RelayPoolTests {
    final class Homes: Sendable {
        let list = Mutex<[String?]>([])
        func add(_ h: String?) { list.withLock { $0.append(h) } }
    }

    func pool(_ lab: RelayLab, node: Int, inbox: Inbox, homes: Homes, connected: Homes = Homes()) -> RelayPool {
        RelayPool(nodeKey: lab.nodes[node], group: lab.group, logger: Logger(label: "test.pool"),
                  tune: { c in
                      c.backoff = Backoff(initial: .milliseconds(50), maximum: .milliseconds(400))
                      c.tickInterval = .milliseconds(100)
                  },
                  onPacket: { inbox.add($0, Array($1)) }, onHomeChanged: { homes.add($0) },
                  onConnected: { connected.add($0) })
    }

    /// Every connection that comes up is announced (the node then retries handshakes that
    /// went nowhere while no relay was up), again after a reconnect.
    @Test func connectionsThatComeUpAreAnnounced() async throws {
        let lab1 = try await RelayLab(), lab2 = try await RelayLab()
        let up = Homes()
        let a = pool(lab1, node: 0, inbox: Inbox(), homes: Homes(), connected: up)
        #expect(up.list.withLock { $0 }.isEmpty)
        a.configure(relays([lab1, lab2]))
        #expect(await eventually { Set(up.list.withLock { $0 }) == ["r1", "r2"] })
        #expect(up.list.withLock { $0 }.count == 2, "once per connection")
        await a.close()
        await lab1.shutdown(); await lab2.shutdown()
    }

    func relays(_ labs: [RelayLab]) -> [RelayInfo] {
        labs.enumerated().map { i, lab in
            RelayInfo(id: "r\(i + 1)", url: "http://127.0.0.1:\(lab.server.port)/relay", key: lab.serverKey.publicKey.base64)
        }
    }

    @Test func homeIsTheFirstRelayAndFailsOverWhenItStops() async throws {
        let lab1 = try await RelayLab(), lab2 = try await RelayLab()
        let inA = Inbox(), inB = Inbox(), homesA = Homes(), homesB = Homes()
        let a = pool(lab1, node: 0, inbox: inA, homes: homesA)
        let b = pool(lab1, node: 1, inbox: inB, homes: homesB)
        a.configure(relays([lab1, lab2]))
        b.configure(relays([lab1, lab2]))
        #expect(await eventually { a.statuses.allSatisfy(\.connected) && b.statuses.allSatisfy(\.connected) })
        // Whichever connected first, the first relay in the list ends up home (nothing measured).
        #expect(await eventually { a.home == "r1" && b.home == "r1" })
        #expect(await eventually { homesA.list.withLock { $0 }.last == "r1" }, "the callback follows the state")

        let keyB = lab1.nodes[1].publicKey
        #expect(a.send(to: keyB, packet: [1, 2, 3]))
        #expect(await eventually { inB.received == 1 })
        #expect(a.statuses.map(\.stats.packetsSent) == [1, 0])

        // b says it is at home on r2: a sends there although its own home is r1.
        a.setPeerHomes([keyB: "r2"])
        #expect(a.send(to: keyB, packet: [4]))
        #expect(await eventually { inB.received == 2 })
        #expect(a.statuses.map(\.stats.packetsSent) == [1, 1])

        // The first relay goes away: both homes move to r2, and traffic follows although a
        // still believes b is at home on r1.
        a.setPeerHomes([keyB: "r1"])
        try await lab1.server.close()
        #expect(await eventually { a.home == "r2" && b.home == "r2" })
        #expect(await eventually { homesA.list.withLock { $0 }.last == "r2" }, "the callback follows the state")
        #expect(a.statuses.map(\.connected) == [false, true])
        #expect(a.send(to: keyB, packet: [5]))
        #expect(await eventually { inB.received == 3 })
        #expect(inB.packets.withLock { $0.map(\.1) } == [[1, 2, 3], [4], [5]])

        await a.close(); await b.close()
        await lab1.shutdown(); await lab2.shutdown()
    }

    @Test func unusableEntriesAreSkippedAndTheListIsBounded() async throws {
        let lab = try await RelayLab()
        let a = pool(lab, node: 0, inbox: Inbox(), homes: Homes())
        var list = [RelayInfo(id: "bad-url", url: "ftp://x"),
                    RelayInfo(id: "tls", url: "https://relay.example.test/relay"),
                    RelayInfo(id: "bad-key", url: "http://127.0.0.1:1/relay", key: "not a key")]
        list += (0..<20).map { RelayInfo(id: "r\($0)", url: "http://127.0.0.1:\(lab.server.port)/relay") }
        a.configure(list)
        #expect(a.statuses.map(\.id) == (0..<RelayPool.maxRelays).map { "r\($0)" })
        // Those eight name one server and this one node key, where each new connection replaces
        // the last (as a relay must): they take turns, so whether r0 is up at a given moment is
        // chance. From here on r0 alone, kept from that list (same url and key) ...
        a.configure([RelayInfo(id: "r0", url: "http://127.0.0.1:\(lab.server.port)/relay")])
        #expect(a.statuses.map(\.id) == ["r0"])
        // ... and a relay whose url and key stay the same keeps its connection across a new list.
        #expect(await eventually { a.statuses.first?.connected == true })
        let before = a.statuses.first?.stats.connects
        a.configure([RelayInfo(id: "r0", name: "renamed", url: "http://127.0.0.1:\(lab.server.port)/relay", stunPorts: [1])])
        #expect(a.statuses.count == 1 && a.statuses.first?.connected == true)
        #expect(a.statuses.first?.stats.connects == before)
        await a.close()
        await lab.shutdown()
    }
}
