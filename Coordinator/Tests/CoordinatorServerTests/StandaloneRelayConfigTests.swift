import CoordinatorServer
import MeshCrypto
import Testing

@Suite struct StandaloneRelayConfigTests {
    static func valid() -> StandaloneRelayConfig {
        var c = StandaloneRelayConfig()
        c.stateDirectory = "/tmp/unused"
        c.coordinatorURL = "https://coord.example.com"
        var e = SodiumEntropy()
        c.coordinatorKey = PrivateKey.generate(using: &e).publicKey.base64
        return c
    }

    /// --tls-cert and --tls-key: both or neither, never empty; the errors name the flags.
    @Test func tlsNeedsBothTheCertificateAndTheKey() throws {
        try Self.valid().validate()
        var both = Self.valid()
        both.tlsCertificateFile = "/etc/mesh/fullchain.pem"
        both.tlsKeyFile = "/etc/mesh/privkey.pem"
        try both.validate()

        let cases: [(String?, String?, String)] = [
            ("/c.pem", nil, "--tls-cert is set but --tls-key is not"),
            (nil, "/k.pem", "--tls-key is set but --tls-cert is not"),
            ("", "/k.pem", "--tls-cert must not be empty"),
            ("/c.pem", "", "--tls-key must not be empty"),
        ]
        for (cert, key, expected) in cases {
            var c = Self.valid()
            c.tlsCertificateFile = cert
            c.tlsKeyFile = key
            do {
                try c.validate()
                Issue.record("accepted: cert \(cert ?? "nil"), key \(key ?? "nil")")
            } catch let e as StandaloneRelayConfig.ConfigError {
                #expect(e.description.hasPrefix(expected), "\(e)")
            }
        }
    }
}
