/// MagicDNS as `meshctl status --json` shows it (`dns`): where it answers and what it did
/// with the queries so far.
public struct DNSStatus: Codable, Sendable, Equatable {
    public var addresses: [String]
    /// The host's resolvers it forwards other names to.
    public var upstreams: [String]
    /// Answered from the netmap and the extra records (NXDOMAIN and FORMERR included).
    public var answered: Int
    /// Passed to an upstream, and of those, answered by it.
    public var forwarded: Int
    public var forwardAnswered: Int
    /// Answered SERVFAIL: no upstream answered in time, none is configured, or too many in flight.
    public var failed: Int

    public init(addresses: [String], upstreams: [String], answered: Int, forwarded: Int, forwardAnswered: Int, failed: Int) {
        self.addresses = addresses
        self.upstreams = upstreams
        self.answered = answered
        self.forwarded = forwarded
        self.forwardAnswered = forwardAnswered
        self.failed = failed
    }
}
