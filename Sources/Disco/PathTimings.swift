import MeshBase

/// The path-selection constants of DESIGN.md section 5 (Tailscale's published values).
/// Tests shorten them; the state machine never reads a clock of its own.
public struct PathTimings: Sendable {
    /// Data goes only to the direct path while its last Pong is younger than this.
    public var trustDuration: Duration = .milliseconds(6500)
    /// Heartbeat ping to the best path while a session is active.
    public var heartbeatInterval: Duration = .seconds(3)
    /// A session counts as active while traffic flowed within this window.
    public var sessionActiveTimeout: Duration = .seconds(45)
    /// How often an active session looks for a better path...
    public var upgradeInterval: Duration = .seconds(60)
    /// ...unless the current one is already this fast.
    public var goodEnoughLatency: Duration = .milliseconds(5)
    /// Minimum gap between discovery rounds (pings to every candidate plus a CallMeMaybe).
    public var discoveryInterval: Duration = .seconds(5)
    /// A heartbeat to the best path unanswered this long makes data go by the relay too, without
    /// waiting for the trust window to run out: a dead path costs at most heartbeat + this.
    public var pongOverdue: Duration = .seconds(1)
    /// A Ping without a Pong after this long is given up.
    public var pingTimeout: Duration = .seconds(5)
    /// While idle, keep the NAT mapping open with a ping at most this far apart (conntrack drops at 30 s).
    public var idleKeepaliveInterval: Duration = .seconds(25)
    /// A candidate whose Pings time out this many times in a row (and never answered since) is
    /// pruned when a CallMeMaybe or a Ping brought it, or backed off when the netmap did.
    public var missesBeforePrune = 3
    /// A pruned address is not pinged again for this long, even if a CallMeMaybe lists it anew.
    public var prunedHold: Duration = .seconds(600)
    /// Longest gap between pings to a netmap endpoint that keeps failing (the backoff doubles up to it).
    public var backoffCap: Duration = .seconds(60)

    public init() {}
    public static let standard = PathTimings()
}
