/// Constants of the WireGuard protocol (whitepaper sections 5 and 6). Kept in one place so
/// that tests can shorten timers without touching the state machines.
public enum Protocol {
    public static let construction = Array("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s".utf8)
    public static let identifier = Array("WireGuard v1 zx2c4 Jason@zx2c4.com".utf8)
    public static let labelMAC1 = Array("mac1----".utf8)
    public static let labelCookie = Array("cookie--".utf8)

    public static let rekeyAfterMessages: UInt64 = 1 << 60
    public static let rejectAfterMessages: UInt64 = UInt64.max - (1 << 13)
}

/// The timer constants of the whitepaper section 6.1, as durations in nanoseconds.
public struct ProtocolTimers: Sendable {
    public var rekeyAfterTime: Duration = .seconds(120)
    public var rejectAfterTime: Duration = .seconds(180)
    public var rekeyAttemptTime: Duration = .seconds(90)
    public var rekeyTimeout: Duration = .seconds(5)
    public var keepaliveTimeout: Duration = .seconds(10)
    public var cookieRefreshTime: Duration = .seconds(120)
    /// Initiations from one peer closer together than this are ignored (flood protection).
    public var handshakeInitiationRate: Duration = .milliseconds(20)

    public init() {}
    public static let standard = ProtocolTimers()

    /// How many initiations fit into REKEY_ATTEMPT_TIME before giving up.
    public var maxHandshakeAttempts: Int {
        rekeyTimeout.nanoseconds > 0 ? max(1, Int(rekeyAttemptTime.nanoseconds / rekeyTimeout.nanoseconds)) : 1
    }
}

extension Duration {
    /// Saturates instead of trapping: timer settings may come from a config file.
    static func * (d: Duration, n: Int) -> Duration {
        let (product, overflow) = d.nanoseconds.multipliedReportingOverflow(by: Int64(n))
        guard overflow else { return .nanoseconds(product) }
        return .nanoseconds((d.nanoseconds < 0) != (n < 0) ? Int64.min : Int64.max)
    }
}
