/// The daemon's answer to one `ping PEER TIMEOUT_MS` request: the first Pong that came back
/// for the disco Pings sent (to the direct path, or to the peer's candidates and through the
/// relay while there is no confirmed direct path), or that none came within the timeout.
///
/// Schema (stable): `{"peer": String, "key": String, "ip": String?, "answered": Bool,
/// "path": ("direct" | "relay")?, "endpoint": String?, "relay": String?,
/// "latencyMs": Double?, "timeoutMs": Int}`: `peer` is the peer's name, `key` its short key,
/// `ip` its overlay IPv4 (IPv6 when it has none); when answered, `path` says how the Pong
/// came back, `endpoint` the peer's address on a direct path ("IP:PORT"), `relay` the relay's
/// id on a relayed one, `latencyMs` the round trip in milliseconds.
public struct PingReply: Codable, Sendable, Equatable {
    public enum Path: String, Codable, Sendable { case direct, relay }
    public var peer: String
    public var key: String
    public var ip: String?
    public var answered: Bool
    public var path: Path?
    public var endpoint: String?
    public var relay: String?
    public var latencyMs: Double?
    public var timeoutMs: Int

    public init(peer: String, key: String, ip: String?, answered: Bool, path: Path? = nil, endpoint: String? = nil,
                relay: String? = nil, latencyMs: Double? = nil, timeoutMs: Int) {
        self.peer = peer
        self.key = key
        self.ip = ip
        self.answered = answered
        self.path = path
        self.endpoint = endpoint
        self.relay = relay
        self.latencyMs = latencyMs
        self.timeoutMs = timeoutMs
    }

    /// "b (100.64.0.2)"
    private var who: String { ip.map { "\(peer) (\($0))" } ?? peer }

    /// "pong from b (100.64.0.2) via direct 203.0.113.12:41641 in 0.4 ms", "… via relay fra in
    /// 12.0 ms", or "no pong from b (100.64.0.2) within 2000 ms".
    public var line: String {
        guard answered, let path else { return "no pong from \(who) within \(timeoutMs) ms" }
        let via: String
        switch path {
        case .direct: via = "direct" + (endpoint.map { " \($0)" } ?? "")
        case .relay: via = "relay" + (relay.map { " \($0)" } ?? "")
        }
        return "pong from \(who) via \(via) in \(Self.milliseconds(latencyMs ?? 0)) ms"
    }

    /// One decimal, at least "0.1" for anything that took time at all.
    public static func milliseconds(_ ms: Double) -> String {
        guard ms.isFinite, ms >= 0 else { return "?" }
        let tenths = (ms * 10).rounded()
        guard tenths < 1e12 else { return "?" }
        let t = max(Int(tenths), ms > 0 ? 1 : 0)
        return "\(t / 10).\(t % 10)"
    }
}

/// `meshctl ping PEER --json`: every reply of the run, and what it came to.
///
/// Schema (stable): `{"peer": String, "sent": Int, "answered": Int, "direct": Bool,
/// "replies": [PingReply]}`: `direct` is true when some Pong came back over a direct path.
/// meshctl exits 0 when some Pong came back (with `--until-direct`: a direct one), 1 otherwise.
public struct PingSummary: Codable, Sendable, Equatable {
    public var peer: String
    public var sent: Int
    public var answered: Int
    public var direct: Bool
    public var replies: [PingReply]

    public init(peer: String, replies: [PingReply]) {
        self.peer = peer
        self.replies = replies
        sent = replies.count
        answered = replies.filter(\.answered).count
        direct = replies.contains { $0.answered && $0.path == .direct }
    }

    /// What `--until-direct` and `-c` make of the replies so far: stop after a direct Pong when
    /// asked to, or when `count` pings went out.
    public static func shouldStop(after replies: [PingReply], count: Int, untilDirect: Bool) -> Bool {
        if untilDirect, replies.last.map({ $0.answered && $0.path == .direct }) == true { return true }
        return replies.count >= count
    }

    /// Whether the run succeeded (the exit status).
    public func succeeded(untilDirect: Bool) -> Bool { untilDirect ? direct : answered > 0 }
}
