import CheckedArithmetic
import Foundation
import MeshCrypto
import MeshTLS

/// `meshcoord relay` settings (flags only: a relay host has little to configure).
public struct StandaloneRelayConfig: Sendable, Equatable {
    public var stateDirectory = "/var/lib/meshrelay"
    public var listenHost = "0.0.0.0"
    public var listenPort = 8080
    /// Two ports (so nodes can tell easy from hard NATs), or none: STUN off.
    public var stunPorts: [Int] = [3478, 3479]
    /// Where to ask which nodes to admit, and the coordinator key its answers are sealed with.
    public var coordinatorURL = ""
    public var coordinatorKey = ""
    /// A private CA (PEM) trusted besides the system's roots for an `https://` coordinator.
    public var caFile: String?
    /// PEM certificate chain and key: the relay's port speaks TLS itself (a relay on 443 for
    /// networks that let out only HTTPS); SIGHUP reloads them.
    public var tlsCertificateFile: String?
    public var tlsKeyFile: String?
    /// The same protections as the coordinator's node API port (see `CoordinatorConfig`).
    public var maxConnections: Int?
    public var maxConnectionsPerSource = 64
    public var requestHeadTimeoutSeconds: Double = 10
    public var idleTimeoutSeconds: Double = 30
    public var relayHandshakeTimeoutSeconds: Double = 4
    /// One `/v1/relay/nodes` long-poll at most this long; must exceed the coordinator's
    /// keepalive_seconds (default 50), or every quiet poll counts as a failure.
    public var pollTimeoutSeconds: Double = 90
    /// Retry backoff after a failed poll (tests shorten it).
    public var retryInitialSeconds: Double = 0.5
    public var retryMaximumSeconds: Double = 30

    public init() {}

    public typealias ConfigError = CoordinatorConfig.ConfigError

    /// Every value checked, each error naming its flag.
    public func validate() throws {
        guard !stateDirectory.isEmpty else { throw ConfigError("--state-dir must not be empty") }
        guard (0...65535).contains(listenPort) else { throw ConfigError("--listen port must be 0-65535, not \(listenPort)") }
        guard stunPorts.isEmpty || stunPorts.count == 2 else {
            throw ConfigError("--stun-ports needs two ports (e.g. 3478,3479), so nodes can tell easy from hard NATs, or none")
        }
        for p in stunPorts where !(0...65535).contains(p) { throw ConfigError("--stun-ports must be ports 0-65535, not \(p)") }
        if stunPorts.count == 2, stunPorts[0] != 0, stunPorts[0] == stunPorts[1] {
            throw ConfigError("--stun-ports lists port \(stunPorts[0]) twice; the two ports must differ")
        }
        guard !coordinatorURL.isEmpty else {
            throw ConfigError("--coordinator URL is required: the coordinator's public URL (e.g. http://coord.example.com:8080), " +
                              "where the relay learns which nodes to admit")
        }
        let tls: TLSClient
        do { tls = try TLSClient(caFile: caFile) } catch { throw ConfigError("--ca-file: \(error)") }
        _ = try RelayNodesClient.parse(url: coordinatorURL, tls: tls)
        guard !coordinatorKey.isEmpty else {
            throw ConfigError("--coordinator-key BASE64 is required: the coordinator's public key (coordinator_key in the " +
                              "\"meshcoord starting\" line of its log)")
        }
        guard CoordinatorConfig.canonicalRelayKey(coordinatorKey) != nil else {
            throw ConfigError("--coordinator-key is not a base64 32-byte X25519 public key (coordinator_key in the coordinator's log)")
        }
        func check(_ flag: String, _ value: Double, _ range: ClosedRange<Double>) throws {
            guard value.isFinite, range.contains(value) else {
                throw ConfigError("\(flag) must be a number from \(CoordinatorConfig.plain(range.lowerBound)) to " +
                                  "\(CoordinatorConfig.plain(range.upperBound)), not \(value)")
            }
        }
        if let m = maxConnections { try check("--max-connections", Double(m), CoordinatorConfig.range(of: "max_connections")) }
        try check("--max-connections-per-source", Double(maxConnectionsPerSource), CoordinatorConfig.range(of: "max_connections_per_source"))
        try check("request head timeout", requestHeadTimeoutSeconds, CoordinatorConfig.range(of: "request_head_timeout_seconds"))
        try check("idle timeout", idleTimeoutSeconds, CoordinatorConfig.range(of: "idle_timeout_seconds"))
        try check("relay handshake timeout", relayHandshakeTimeoutSeconds, CoordinatorConfig.range(of: "relay_handshake_timeout_seconds"))
        try check("--poll-timeout", pollTimeoutSeconds, 1...3600)
        try check("retry backoff", retryInitialSeconds, 0.01...60)
        try check("retry backoff", retryMaximumSeconds, 0.01...3600)
        try CoordinatorConfig.validateTLSFiles(certificate: tlsCertificateFile, key: tlsKeyFile,
                                               certificateName: "--tls-cert", keyName: "--tls-key")
    }
}
