import MeshLocalAPI
import MeshStatus

/// What the local API can do besides `status` and `version`, supplied by the node that runs it:
/// mesh mode (`JoinedNode.localAPIServices`) supplies all of it; a service left nil is
/// answered with "not available in this mode". Each answer is handed to `done` exactly once,
/// possibly on another thread, and within a bounded time (a ping's timeout, the coordinator
/// call's).
public struct LocalAPIServices: Sendable {
    public typealias Done<T> = @Sendable (Result<T, LocalAPIError>) -> Void

    /// The data-plane totals `metrics` adds to what the status carries.
    public var counters: (@Sendable () -> NodeMetrics.Counters)?
    /// Whether the tunnel is up (`down` turns it off), for `metrics`.
    public var tunnelUp: (@Sendable () -> Bool)?
    public var ping: (@Sendable (_ peer: String, _ timeout: Duration, _ done: @escaping Done<PingReply>) -> Void)?
    public var netcheck: (@Sendable (_ done: @escaping Done<NetcheckAnswer>) -> Void)?
    public var down: (@Sendable () -> Result<StateChangeReply, LocalAPIError>)?
    public var up: (@Sendable () -> Result<StateChangeReply, LocalAPIError>)?
    public var logout: (@Sendable (_ done: @escaping Done<StateChangeReply>) -> Void)?
    /// Called once the answer to a successful `logout` has been written: the daemon stops.
    public var afterLogout: (@Sendable () -> Void)?

    public init() {}
}
