/// Renders a node's status as the aligned table an admin reads at a glance (`meshctl status`).
///
/// Peers are sorted by name (then key), so the same network prints the same way each time;
/// keys are shortened unless asked for in full (they identify, the name already names); ages
/// read like "2m ago"; no line ends in spaces (the table's last column is not padded), so the
/// output diffs and greps cleanly. Text that came from the network (names, relay ids) is shown
/// with control characters replaced, so a peer cannot move the admin's cursor.
public enum StatusTable {
    public static func render(_ s: NodeStatus, keys: Bool = false) -> String {
        let key = { (k: String) in keys ? k : StatusTable.shortKey(k) }
        var lines: [String] = []
        lines.append("interface \(s.interface)  public key \(key(s.publicKey))  listening on UDP \(s.listenPort)")
        if let name = s.name {
            // Mesh mode: the node's name, overlay addresses and its control connection.
            var line = "node \(clean(name))  \(s.ipv4 ?? "-")  \(s.ipv6 ?? "-")"
            if let tags = s.tags, !tags.isEmpty {
                line += "  tags \(tags.map(clean).joined(separator: ","))"
            } else if let user = s.user {
                line += "  user \(clean(user))"
            }
            if let c = s.coordinator { line += "  coordinator \(c) (\(s.control ?? "?"))" }
            lines.append(line)
            if let e = s.controlError { lines.append("control: \(e)") }
        }
        if let relays = s.relays, !relays.isEmpty {
            let parts = relays.map { r in
                "\(clean(r.id))\(r.home ? " (home)" : "") \(r.connected ? "connected" : "down")"
            }
            lines.append("relays: " + parts.joined(separator: ", "))
        }
        if let d = s.dataPath { lines.append(d.summary) }
        lines.append("dropped datagrams: \(s.droppedDatagrams)")
        if let disco = s.discoDrops {
            // Mesh mode: disco traffic the node refused (a flood from strangers shows here).
            let nonzero = disco.filter { $0.value > 0 }.map { "\($0.key) \($0.value)" }.sorted()
            lines.append("disco drops: " + (nonzero.isEmpty ? "none" : nonzero.joined(separator: ", ")))
        }
        let absent = s.absentPeers ?? []
        guard !s.peers.isEmpty || !absent.isEmpty else {
            lines.append("no peers yet")
            return lines.map(trimmingTrailingSpaces).joined(separator: "\n")
        }
        let mesh = !absent.isEmpty || s.peers.contains { $0.name != nil }
        // In mesh mode the path column says how packets travel: direct (and where) or through
        // which relay, and why not direct. (There the WireGuard endpoint says little.)
        var rows: [[String]] = [mesh
            ? ["NAME", "ADDRESS", "STATUS", "PATH", "LATENCY", "HANDSHAKE", "RX", "TX", "KEY"]
            : ["PEER", "ENDPOINT", "HANDSHAKE", "RX", "TX"]]
        // Absent peers sort in among the others by name: a peer hidden by the policy is where
        // the admin last saw it, marked, not gone.
        let listed = s.peers.map { (peer: $0, absent: nil as NodeStatus.AbsentPeer?) }
            + absent.map { a in (peer: NodeStatus.PeerStatus(publicKey: a.publicKey, name: a.name, ipv4: a.ipv4), absent: a) }
        for (p, a) in listed.sorted(by: { precedes($0.peer, $1.peer) }) {
            if let a {
                rows.append([clean(a.name), a.ipv4 ?? "-", absence(a), "-", "-", "-", "-", "-", key(a.publicKey)])
                continue
            }
            let hs = p.lastHandshakeSecondsAgo.map(age) ?? "never"
            if mesh {
                rows.append([clean(p.name ?? "?"), p.ipv4 ?? "-", presence(p), path(p),
                             p.latencyMs.map(milliseconds) ?? "-", hs, bytes(p.rxBytes), bytes(p.txBytes), key(p.publicKey)])
            } else {
                rows.append([key(p.publicKey), p.endpoint ?? "-", hs, bytes(p.rxBytes), bytes(p.txBytes)])
            }
        }
        let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max() ?? 0 }
        for r in rows {
            let line = r.enumerated().map { $0.offset == r.count - 1 ? $0.element : $0.element.padded(to: widths[$0.offset]) }
                .joined(separator: "  ")
            lines.append(line)
        }
        return lines.map(trimmingTrailingSpaces).joined(separator: "\n")
    }

    /// By name, then key (byte order: the same on every machine); nameless peers last.
    static func sortedPeers(_ peers: [NodeStatus.PeerStatus]) -> [NodeStatus.PeerStatus] {
        peers.sorted(by: precedes)
    }

    static func precedes(_ a: NodeStatus.PeerStatus, _ b: NodeStatus.PeerStatus) -> Bool {
        switch (a.name, b.name) {
        case let (x?, y?) where x != y: return Array(x.utf8).lexicographicallyPrecedes(y.utf8)
        case (.some, nil): return true
        case (nil, .some): return false
        default: return Array(a.publicKey.utf8).lexicographicallyPrecedes(b.publicKey.utf8)
        }
    }

    /// "absent (policy)": the access policy hides the peer from this node; other reasons a
    /// newer meshd may give are shown as they come.
    static func absence(_ a: NodeStatus.AbsentPeer) -> String {
        "absent (\(clean(a.reason)))"
    }

    /// "online", "online, idle", "offline, last seen 3m ago" (or "offline" when never seen).
    static func presence(_ p: NodeStatus.PeerStatus) -> String {
        switch p.online {
        case false?:
            return p.lastSeenSecondsAgo.map { "offline, last seen \(age($0))" } ?? "offline"
        case true?:
            return p.idle == true ? "online, idle" : "online"
        case nil:
            return p.idle == true ? "idle" : "-"
        }
    }

    /// "direct 203.0.113.12:41641", "relay fra (hard NAT on peer)",
    /// "direct 203.0.113.12:41641 (unconfirmed, also relay: no answer yet ...)", or the
    /// daemon's words.
    static func path(_ p: NodeStatus.PeerStatus) -> String {
        guard var out = p.path.map(clean) else { return "-" }
        if out == "relay", let region = p.relayRegion { out += " \(clean(region))" }
        guard let why = p.relayReason.map(clean) else { return out }
        if out.hasPrefix("relay") {
            out += " (\(why))"
        } else if out.hasSuffix("also relay)") {
            out.removeLast()
            out += ": \(why))"
        }
        return out
    }

    /// A key as its first 8 characters and "…" (still enough to tell peers apart and grep the
    /// full key in `--keys` or `--json` output).
    public static func shortKey(_ k: String) -> String {
        k.count > 8 ? String(k.prefix(8)) + "…" : k
    }

    /// "12s ago", "2m ago", "3h ago", "5d ago" (whole units, rounded down; negative is "0s ago").
    public static func age(_ seconds: Int) -> String {
        let s = max(seconds, 0)
        if s < 60 { return "\(s)s ago" }
        if s < 3600 { return "\(s / 60)m ago" }
        if s < 86_400 { return "\(s / 3600)h ago" }
        return "\(s / 86_400)d ago"
    }

    /// "1.2 ms" (tenths; under 0.1 ms shows as "0.1 ms"); "-" for values that are not a latency.
    static func milliseconds(_ ms: Double) -> String {
        guard ms.isFinite, ms >= 0, ms < 1e9 else { return "-" }
        let tenths = max(Int((ms * 10).rounded()), 1)
        return "\(tenths / 10).\(tenths % 10) ms"
    }

    /// Bytes in binary units with one decimal ("1.5 MiB").
    public static func bytes(_ n: UInt64) -> String {
        let units: [(UInt64, String)] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        for (size, unit) in units where n >= size {
            // Tenths without Double formatting: exact for any UInt64.
            let tenths = n / (size / 10)
            return "\(tenths / 10).\(tenths % 10) \(unit)"
        }
        return "\(n) B"
    }

    /// Control characters (C0, DEL, C1) as "?": names and ids reach the admin's terminal.
    static func clean(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.map { c in
            c.value < 0x20 || (0x7F...0x9F).contains(c.value) ? "?" : c
        }))
    }

    static func trimmingTrailingSpaces(_ line: String) -> String {
        var out = Substring(line)
        while out.last == " " { out.removeLast() }
        return String(out)
    }
}

extension String {
    func padded(to n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}
