/// Renders a node's status as the aligned table an admin reads at a glance (`meshctl status`).
public enum StatusTable {
    public static func render(_ s: NodeStatus) -> String {
        var lines: [String] = []
        lines.append("interface \(s.interface)  public key \(s.publicKey)  listening on UDP \(s.listenPort)")
        if let name = s.name {
            // Mesh mode: the node's name, overlay addresses and its control connection.
            var line = "node \(name)  \(s.ipv4 ?? "-")  \(s.ipv6 ?? "-")"
            if let c = s.coordinator { line += "  coordinator \(c) (\(s.control ?? "?"))" }
            lines.append(line)
            if let e = s.controlError { lines.append("control: \(e)") }
        }
        if let relays = s.relays, !relays.isEmpty {
            let parts = relays.map { r in
                "\(r.id)\(r.home ? " (home)" : "") \(r.connected ? "connected" : "down")"
            }
            lines.append("relays: " + parts.joined(separator: ", "))
        }
        lines.append("dropped datagrams: \(s.droppedDatagrams)")
        if let disco = s.discoDrops {
            // Mesh mode: disco traffic the node refused (a flood from strangers shows here).
            let nonzero = disco.filter { $0.value > 0 }.map { "\($0.key) \($0.value)" }.sorted()
            lines.append("disco drops: " + (nonzero.isEmpty ? "none" : nonzero.joined(separator: ", ")))
        }
        let mesh = s.peers.contains { $0.name != nil }
        // In mesh mode the path column says how packets travel: direct (and where) or relay.
        // (There the WireGuard endpoint says little: the path column replaces it.)
        var rows: [[String]] = [(mesh ? ["NAME", "ADDRESS", "PATH", "PEER"] : ["PEER", "ENDPOINT"]) + ["HANDSHAKE", "RX", "TX"]]
        for p in s.peers {
            let hs = p.lastHandshakeSecondsAgo.map { "\($0)s ago" } ?? "never"
            let who = mesh ? [p.name ?? "?", p.ipv4 ?? "-", p.path ?? "-", p.publicKey] : [p.publicKey, p.endpoint ?? "-"]
            rows.append(who + [hs, bytes(p.rxBytes), bytes(p.txBytes)])
        }
        let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max() ?? 0 }
        for r in rows {
            lines.append(r.enumerated().map { $0.element.padded(to: widths[$0.offset]) }
                .joined(separator: "  "))
        }
        return lines.joined(separator: "\n")
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
}

extension String {
    func padded(to n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}
