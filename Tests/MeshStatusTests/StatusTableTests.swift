import MeshStatus
import Testing

@Suite struct StatusTableTests {
    static let keyA = "aGVsbG8gd29ybGQgdGhpcyBpcyBhIGtleSBvZiBub2Rl="
    static let keyB = "YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI="
    static let keyC = "Y2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2M="
    static let keyD = "ZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGQ="

    /// Peers given out of order, one of each kind: direct with latency, relayed with its
    /// reason, idle, offline.
    static func status(peers: [NodeStatus.PeerStatus]? = nil) -> NodeStatus {
        NodeStatus(
            interface: "mesh0", publicKey: keyA, listenPort: 41641, droppedDatagrams: 0, drops: [:],
            peers: peers ?? [
                .init(publicKey: keyD, name: "delta", ipv4: "100.64.0.4", online: false, path: "relay",
                      lastSeenSecondsAgo: 185, relayRegion: "default", relayReason: "peer offline"),
                .init(publicKey: keyB, lastHandshakeSecondsAgo: 12, rxBytes: 1536, txBytes: 2048, name: "bravo",
                      ipv4: "100.64.0.2", online: true, path: "direct 203.0.113.12:41641", idle: false, latencyMs: 1.24),
                .init(publicKey: keyC, lastHandshakeSecondsAgo: 7300, name: "charlie", ipv4: "100.64.0.3", online: true,
                      path: "relay", idle: true, relayRegion: "fra", relayReason: "hard NAT on this side"),
            ],
            name: "alpha", ipv4: "100.64.0.1", ipv6: "fd7a::1", coordinator: "https://coord.lab.test", control: "connected",
            relays: [.init(id: "default", url: "https://coord.lab.test/relay", home: true, connected: true)],
            discoDrops: [:])
    }

    func lines(_ s: NodeStatus, keys: Bool = false) -> [String] {
        StatusTable.render(s, keys: keys).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    func peerLines(_ s: NodeStatus, keys: Bool = false) -> [String] {
        let all = lines(s, keys: keys)
        let header = all.firstIndex { $0.hasPrefix("NAME") || $0.hasPrefix("PEER") } ?? all.count
        return Array(all.dropFirst(header + 1))
    }

    @Test func peersAreSortedByName() {
        let names = peerLines(Self.status()).map { line in String(line.prefix { $0 != " " }) }
        #expect(names == ["bravo", "charlie", "delta"])
    }

    @Test func noLineEndsInASpaceWhateverTheLastColumn() {
        for keys in [false, true] {
            for line in lines(Self.status(), keys: keys) { #expect(line.last != " ", "'\(line)'") }
        }
        // A last column whose cell is empty in one row, wide in another.
        let uneven = NodeStatus(interface: "wg0", publicKey: "A=", listenPort: 1, droppedDatagrams: 0, drops: [:],
                                peers: [.init(publicKey: "short"), .init(publicKey: Self.keyB, endpoint: "192.0.2.1:51820")])
        for line in lines(uneven, keys: true) { #expect(line.last != " ", "'\(line)'") }
    }

    @Test func keysAreShortUnlessAskedForInFull() {
        let short = StatusTable.render(Self.status())
        #expect(!short.contains(Self.keyB) && !short.contains(Self.keyA))
        #expect(short.contains("YmJiYmJi…") && short.contains("public key aGVsbG8g…"))
        let full = StatusTable.render(Self.status(), keys: true)
        #expect(full.contains(Self.keyB) && full.contains("public key \(Self.keyA)"))
        #expect(StatusTable.shortKey("A=") == "A=")
    }

    @Test func eachPeerShowsPresencePathLatencyAndAges() throws {
        let rows = peerLines(Self.status())
        let bravo = try #require(rows.first { $0.hasPrefix("bravo") })
        #expect(bravo.contains("online  ") && bravo.contains("direct 203.0.113.12:41641")
                && bravo.contains("1.2 ms") && bravo.contains("12s ago") && bravo.contains("1.5 KiB")
                && bravo.contains("2.0 KiB"))
        let charlie = try #require(rows.first { $0.hasPrefix("charlie") })
        #expect(charlie.contains("online, idle") && charlie.contains("relay fra (hard NAT on this side)")
                && charlie.contains("2h ago"))
        let delta = try #require(rows.first { $0.hasPrefix("delta") })
        #expect(delta.contains("offline, last seen 3m ago") && delta.contains("relay default (peer offline)")
                && delta.contains("never"))
    }

    @Test func columnsLineUp() throws {
        let all = lines(Self.status())
        let header = try #require(all.first { $0.hasPrefix("NAME") })
        let column = try #require(header.range(of: "PATH")).lowerBound.utf16Offset(in: header)
        for row in peerLines(Self.status()) {
            let at = row.index(row.startIndex, offsetBy: column)
            #expect(row[at...].hasPrefix("direct") || row[at...].hasPrefix("relay"), "'\(row)'")
        }
    }

    @Test func agesReadLikeTwoMinutesAgo() {
        #expect(StatusTable.age(0) == "0s ago")
        #expect(StatusTable.age(12) == "12s ago")
        #expect(StatusTable.age(59) == "59s ago")
        #expect(StatusTable.age(60) == "1m ago")
        #expect(StatusTable.age(150) == "2m ago")
        #expect(StatusTable.age(3 * 3600 + 59) == "3h ago")
        #expect(StatusTable.age(2 * 86_400) == "2d ago")
        #expect(StatusTable.age(-5) == "0s ago")
        #expect(StatusTable.age(.max).hasSuffix("d ago"))
    }

    @Test func aNodeWithoutPeersSaysSo() {
        let out = lines(Self.status(peers: []))
        #expect(out.last == "no peers yet")
        #expect(!out.contains { $0.hasPrefix("NAME") })
    }

    @Test func aRelayedPathWithoutAReasonStaysPlain() throws {
        let s = Self.status(peers: [.init(publicKey: Self.keyB, name: "bravo", online: true, path: "relay")])
        let row = try #require(peerLines(s).first)
        #expect(row.contains("relay") && !row.contains("("))
    }

    @Test func anUnconfirmedDirectPathSaysWhyTheRelayStillCarries() throws {
        let s = Self.status(peers: [.init(publicKey: Self.keyB, name: "bravo", online: true,
                                          path: "direct 203.0.113.12:41641 (unconfirmed, also relay)",
                                          relayRegion: "fra", relayReason: "no answer yet on direct candidates")])
        let row = try #require(peerLines(s).first)
        #expect(row.contains("direct 203.0.113.12:41641 (unconfirmed, also relay: no answer yet on direct candidates)"))
    }

    @Test func controlCharactersFromTheNetworkAreNotPrinted() {
        let s = Self.status(peers: [.init(publicKey: Self.keyB, name: "evil\u{1B}[2J", online: true, path: "relay",
                                          relayRegion: "r\u{7}", relayReason: "x\u{9B}y")])
        let out = StatusTable.render(s)
        #expect(!out.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0.value == 0x9B })
        #expect(out.contains("evil?[2J") && out.contains("relay r? (x?y)"))
    }

    /// A peer the policy hides from this node is listed as absent, in its place by name, with
    /// its address and key and nothing that would look like presence or a path.
    @Test func aPeerHiddenByThePolicyIsAbsentNotOffline() throws {
        var s = Self.status()
        s.absentPeers = [.init(publicKey: Self.keyA.replacingOccurrences(of: "a", with: "e"), name: "echo",
                               ipv4: "100.64.0.5", ipv6: "fd7a::5", user: "bob"),
                         .init(publicKey: Self.keyB.replacingOccurrences(of: "Y", with: "Z"), name: "alder", ipv4: "100.64.0.6")]
        let rows = peerLines(s)
        #expect(rows.map { String($0.prefix { $0 != " " }) } == ["alder", "bravo", "charlie", "delta", "echo"])
        let echo = try #require(rows.first { $0.hasPrefix("echo") })
        #expect(echo.contains("100.64.0.5") && echo.contains("absent (policy)") && !echo.contains("offline"))
        #expect(echo.hasSuffix(StatusTable.shortKey(s.absentPeers![0].publicKey)))
        let cells = echo.split(separator: " ", omittingEmptySubsequences: true)
        #expect(cells == ["echo", "100.64.0.5", "absent", "(policy)", "-", "-", "-", "-", "-",
                          Substring(StatusTable.shortKey(s.absentPeers![0].publicKey))])
        for line in lines(s) { #expect(line.last != " ", "'\(line)'") }
        // Only absent peers: still the mesh table, not "no peers yet".
        var alone = Self.status(peers: [])
        alone.absentPeers = s.absentPeers
        let out = lines(alone)
        #expect(!out.contains("no peers yet") && out.contains { $0.hasPrefix("NAME") })
        #expect(peerLines(alone).count == 2)
        // An empty list changes nothing.
        var none = Self.status(peers: [])
        none.absentPeers = []
        #expect(lines(none).last == "no peers yet")
    }

    @Test func theNodeLineShowsItsUserOrItsTags() {
        var s = Self.status()
        s.user = "alice"
        #expect(lines(s)[1].hasPrefix("node alpha  100.64.0.1  fd7a::1  user alice  coordinator"))
        s.tags = ["tag:db", "tag:eu"]
        #expect(lines(s)[1].hasPrefix("node alpha  100.64.0.1  fd7a::1  tags tag:db,tag:eu  coordinator"))
    }

    @Test func anAbsentPeersReasonFromTheNetworkIsCleaned() {
        var s = Self.status(peers: [])
        s.absentPeers = [.init(reason: "x\u{1B}y", publicKey: Self.keyB, name: "n\u{7}")]
        let out = StatusTable.render(s)
        #expect(out.contains("absent (x?y)") && out.contains("n?") && !out.unicodeScalars.contains { $0.value == 0x1B })
    }
}
