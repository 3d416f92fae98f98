/// One request to meshd's local API: a single line of text on the unix socket (the answer is
/// one JSON document, then the daemon closes the connection). Lines are short and plain so
/// that `socat - UNIX:/run/mesh/meshd.sock` is enough to talk to the daemon by hand.
public enum LocalAPIRequest: Equatable, Sendable {
    case status
    case version
    case metrics
    case netcheck
    /// A disco Ping to the peer named, addressed or keyed by `peer`, answered within the timeout.
    case ping(peer: String, timeoutMilliseconds: Int)
    case down
    case up
    case logout

    /// A peer is named by a node name, an overlay address or a key: never longer than this.
    public static let maxPeerLength = 256
    /// What a single ping may wait for: long enough for a relay on the far side of the
    /// world, short enough that a forgotten request does not hold the daemon's attention.
    public static let pingTimeoutRange = 100...30_000

    /// The commands the daemon knows, as the "unknown command" error lists them.
    public static let known = ["status", "version", "metrics", "netcheck", "ping", "down", "up", "logout"]

    public var line: String {
        switch self {
        case .status: "status"
        case .version: "version"
        case .metrics: "metrics"
        case .netcheck: "netcheck"
        case .ping(let peer, let timeout): "ping \(peer) \(timeout)"
        case .down: "down"
        case .up: "up"
        case .logout: "logout"
        }
    }

    /// Requests that change what the node does (only root may send them); the others only read.
    public var changesState: Bool {
        switch self {
        case .down, .up, .logout: true
        default: false
        }
    }

    /// Parses one request line (without its newline). Every refusal is one sentence.
    public init(line: some StringProtocol) throws(LocalAPIRequestError) {
        let words = String(line).split(separator: " ").map(String.init)
        guard let verb = words.first else { throw LocalAPIRequestError("empty request") }
        func noArguments(_ r: LocalAPIRequest) throws(LocalAPIRequestError) -> LocalAPIRequest {
            guard words.count == 1 else { throw LocalAPIRequestError("'\(verb)' takes no arguments") }
            return r
        }
        switch verb {
        case "status": self = try noArguments(.status)
        case "version": self = try noArguments(.version)
        case "metrics": self = try noArguments(.metrics)
        case "netcheck": self = try noArguments(.netcheck)
        case "down": self = try noArguments(.down)
        case "up": self = try noArguments(.up)
        case "logout": self = try noArguments(.logout)
        case "ping":
            guard words.count == 3 else { throw LocalAPIRequestError("usage: ping PEER TIMEOUT_MS") }
            let peer = words[1]
            guard peer.utf8.count <= Self.maxPeerLength else {
                throw LocalAPIRequestError("the peer is longer than \(Self.maxPeerLength) bytes")
            }
            guard let timeout = Int(words[2]), Self.pingTimeoutRange.contains(timeout) else {
                throw LocalAPIRequestError("the ping timeout must be \(Self.pingTimeoutRange.lowerBound) to \(Self.pingTimeoutRange.upperBound) ms")
            }
            self = .ping(peer: peer, timeoutMilliseconds: timeout)
        default:
            throw LocalAPIRequestError("unknown command '\(verb.prefix(64))'; known: \(Self.known.joined(separator: ", "))")
        }
    }
}

/// Why a request line was refused.
public struct LocalAPIRequestError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
