/// Renders the status JSON as the aligned table an admin reads at a glance.
enum StatusTable {
    static func render(_ s: [String: Any]) -> String {
        var lines: [String] = []
        lines.append("interface \(s["interface"] ?? "?")  public key \(s["publicKey"] ?? "?")  listening on UDP \(s["listenPort"] ?? "?")")
        if let name = s["name"] as? String {
            // Mesh mode: the node's name, overlay addresses and its control connection.
            var line = "node \(name)  \(s["ipv4"] as? String ?? "-")  \(s["ipv6"] as? String ?? "-")"
            if let c = s["coordinator"] as? String { line += "  coordinator \(c) (\(s["control"] as? String ?? "?"))" }
            lines.append(line)
            if let e = s["controlError"] as? String { lines.append("control: \(e)") }
        }
        lines.append("dropped datagrams: \(s["droppedDatagrams"] ?? 0)")
        if let disco = s["discoDrops"] as? [String: Any] {
            // Mesh mode: disco traffic the node refused (a flood from strangers shows here).
            let nonzero = disco.compactMap { k, v in (v as? Int).flatMap { $0 > 0 ? "\(k) \($0)" : nil } }.sorted()
            lines.append("disco drops: " + (nonzero.isEmpty ? "none" : nonzero.joined(separator: ", ")))
        }
        let peers = s["peers"] as? [[String: Any]] ?? []
        let mesh = peers.contains { $0["name"] is String }
        // In mesh mode the path column says how packets travel: direct (and where) or relay.
        // (There the WireGuard endpoint says little: the path column replaces it.)
        var rows: [[String]] = [(mesh ? ["NAME", "ADDRESS", "PATH", "PEER"] : ["PEER", "ENDPOINT"]) + ["HANDSHAKE", "RX", "TX"]]
        for p in peers {
            let hs = (p["lastHandshakeSecondsAgo"] as? Int).map { "\($0)s ago" } ?? "never"
            let key = p["publicKey"] as? String ?? "?"
            let who = mesh ? [p["name"] as? String ?? "?", p["ipv4"] as? String ?? "-", p["path"] as? String ?? "-", key]
                           : [key, p["endpoint"] as? String ?? "-"]
            rows.append(who + [hs, bytes(p["rxBytes"]), bytes(p["txBytes"])])
        }
        let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max() ?? 0 }
        for r in rows {
            lines.append(r.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                .joined(separator: "  "))
        }
        return lines.joined(separator: "\n")
    }

    static func bytes(_ v: Any?) -> String {
        let n = (v as? Int) ?? Int((v as? UInt64) ?? 0)
        if n >= 1 << 30 { return String(format: "%.1f GiB", Double(n) / Double(1 << 30)) }
        if n >= 1 << 20 { return String(format: "%.1f MiB", Double(n) / Double(1 << 20)) }
        if n >= 1 << 10 { return String(format: "%.1f KiB", Double(n) / Double(1 << 10)) }
        return "\(n) B"
    }
}
