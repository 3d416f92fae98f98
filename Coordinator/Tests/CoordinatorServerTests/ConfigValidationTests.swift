import CoordinatorServer
import Foundation
import Testing

/// Findings 8 and 10: numbers, duplicate keys, a BOM and the domain in the config file.
@Suite struct ConfigValidationTests {
    static let numericKeys = CoordinatorConfig.numericRanges.map(\.key)
    static let extremes = ["1e300", "-1e300", "nan", "inf", "-inf", "9223372036854775808", "9223372036854775807",
                           "99999999999999999999", "-99999999999999999999", "-1", "0", "0.5e-300", "1.5"]

    /// Every numeric key at every extreme: either a clear error naming the key (with the line)
    /// or a value inside the key's range. Before, 1e300 in keepalive_seconds or
    /// max_body_bytes trapped ("Double value cannot be converted to Int64").
    @Test func everyNumericKeyAtItsExtremesIsAnErrorNamingTheKey() throws {
        #expect(Set(Self.numericKeys) == ["keepalive_seconds", "offline_after_seconds", "max_body_bytes", "max_connections",
                                          "max_connections_per_source", "request_head_timeout_seconds",
                                          "idle_timeout_seconds", "relay_handshake_timeout_seconds"])
        for key in Self.numericKeys {
            for value in Self.extremes {
                var c = CoordinatorConfig()
                do {
                    try c.apply(configText: "# comment\n\(key) = \(value)\n", file: "t.toml")
                    try c.validate()
                    // Accepted: only plausible in-range values may get here.
                    #expect(["1.5"].contains(value) && !key.hasPrefix("max_"), "\(key) = \(value) was accepted")
                } catch let e as CoordinatorConfig.ConfigError {
                    #expect(e.description.contains(key), "\(key) = \(value): \(e.description)")
                    #expect(e.description.contains("t.toml:2"), "\(key) = \(value): \(e.description)")
                    #expect(e.description.contains("must be a number from"), "\(key) = \(value): \(e.description)")
                }
            }
        }
    }

    /// The same values set directly (what the command-line flags do) are caught by validate().
    @Test func trustedProxiesAreAddressesOnly() throws {
        var c = CoordinatorConfig()
        try c.apply(configText: "trusted_proxies = [\"203.0.113.100\", \"::1\"]\n", file: "p.toml")
        #expect(c.trustedProxies == ["203.0.113.100", "::1"])
        try c.validate()
        for bad in ["trusted_proxies = \"127.0.0.1\"", "trusted_proxies = [1]"] {
            var d = CoordinatorConfig()
            #expect(throws: CoordinatorConfig.ConfigError.self, "\(bad)") { try d.apply(configText: bad + "\n", file: "p.toml") }
        }
        for bad in ["proxy.example.com", "203.0.113.0/24", "[::1]", "", "1.2.3.4:80"] {
            var d = CoordinatorConfig(); d.trustedProxies = [bad]
            #expect(throws: CoordinatorConfig.ConfigError.self, "\(bad)") { try d.validate() }
        }
        var many = CoordinatorConfig(); many.trustedProxies = Array(repeating: "127.0.0.1", count: 65)
        #expect(throws: CoordinatorConfig.ConfigError.self) { try many.validate() }
    }

    @Test func flagValuesOutOfRangeAreCaughtByValidate() throws {
        let doubles: [Double] = [1e300, -1e300, .nan, .infinity, -.infinity, 0, -1, 9.3e18]
        for d in doubles {
            var c = CoordinatorConfig(); c.keepAliveSeconds = d
            #expect(throws: CoordinatorConfig.ConfigError.self) { try c.validate() }
            c = CoordinatorConfig(); c.offlineAfterSeconds = d
            #expect(throws: CoordinatorConfig.ConfigError.self) { try c.validate() }
            c = CoordinatorConfig(); c.requestHeadTimeoutSeconds = d
            #expect(throws: CoordinatorConfig.ConfigError.self) { try c.validate() }
        }
        for i in [Int.min, -1, 0, Int.max] {
            var c = CoordinatorConfig(); c.maxBodyBytes = i
            #expect(throws: CoordinatorConfig.ConfigError.self) { try c.validate() }
            c = CoordinatorConfig(); c.maxConnections = i
            #expect(throws: CoordinatorConfig.ConfigError.self) { try c.validate() }
            c = CoordinatorConfig(); c.maxConnectionsPerSource = i
            #expect(throws: CoordinatorConfig.ConfigError.self) { try c.validate() }
        }
        var c = CoordinatorConfig(); c.keepAliveSeconds = 1e300
        do { try c.validate() } catch { #expect("\(error)".contains("keepalive_seconds (--keepalive)")) }
        try CoordinatorConfig().validate()
    }

    @Test func aDuplicateKeyIsAnErrorNamingTheKeyAndBothLines() throws {
        var c = CoordinatorConfig()
        #expect {
            try c.apply(configText: "listen = \":1\"\nkeepalive_seconds = 5\n\nkeepalive_seconds = 7\n", file: "d.toml")
        } throws: { "\($0)".contains("d.toml:4") && "\($0)".contains("duplicate key \"keepalive_seconds\"") && "\($0)".contains("line 2") }
        #expect {
            try c.apply(configText: "[[relay]]\nid = \"a\"\nurl = \"http://x/relay\"\nid = \"b\"\n", file: "d.toml")
        } throws: { "\($0)".contains("d.toml:4") && "\($0)".contains("duplicate key \"id\"") }
        // The same key in two [[relay]] tables is fine.
        let key = "key = \"\(RelayListConfigTests.relayKey())\"\n"
        try c.apply(configText: "[[relay]]\nid = \"a\"\nurl = \"http://x/relay\"\n\(key)[[relay]]\nid = \"b\"\nurl = \"http://y/relay\"\n\(key)",
                    file: "ok.toml")
        #expect(c.relays.map(\.id) == ["a", "b"])
    }

    @Test func aByteOrderMarkIsSkipped() throws {
        var c = CoordinatorConfig()
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("listen = \"127.0.0.1:9000\"\n".utf8)
        try c.apply(configText: String(decoding: bytes, as: UTF8.self), file: "bom.toml")
        #expect(c.listenPort == 9000)
    }

    @Test func theDomainMustBeADNSName() throws {
        for bad in ["../../etc", "", ".", "mesh.", ".mesh", "a..b", "-mesh", "mesh-", "MESH", "me sh", "mesh/x",
                    String(repeating: "a", count: 64), Array(repeating: "abcdefghij", count: 26).joined(separator: "."), "\u{1b}[2J"] {
            var c = CoordinatorConfig()
            c.domain = bad
            #expect(throws: CoordinatorConfig.ConfigError.self, "\(bad)") { try c.validate() }
            var f = CoordinatorConfig()
            try? f.apply(configText: "domain = \"\(bad)\"\n", file: "x.toml")
            #expect(throws: CoordinatorConfig.ConfigError.self, "\(bad)") { try f.validate() }
        }
        for good in ["mesh", "corp.example", "a-b.c0", String(repeating: "a", count: 63)] {
            var c = CoordinatorConfig()
            c.domain = good
            try c.validate()
        }
    }

    /// tls_cert and tls_key (--tls-cert/--tls-key): both or neither, never empty; with them the
    /// default public URL is https://.
    @Test func tlsNeedsBothTheCertificateAndTheKey() throws {
        var c = CoordinatorConfig()
        try c.apply(configText: "tls_cert = \"/etc/mesh/fullchain.pem\"\n", file: "t.toml")
        #expect(c.tlsCertificateFile == "/etc/mesh/fullchain.pem" && c.tlsKeyFile == nil)
        do {
            try c.validate()
            Issue.record("tls_cert without tls_key was accepted")
        } catch let e as CoordinatorConfig.ConfigError {
            #expect(e.description.contains("tls_cert (--tls-cert) is set but tls_key (--tls-key) is not"), "\(e)")
        }
        var k = CoordinatorConfig(); k.tlsKeyFile = "/etc/mesh/privkey.pem"
        #expect(throws: CoordinatorConfig.ConfigError.self) { try k.validate() }
        for (cert, key) in [("", "/k.pem"), ("/c.pem", "")] {
            var e = CoordinatorConfig(); e.tlsCertificateFile = cert; e.tlsKeyFile = key
            #expect(throws: CoordinatorConfig.ConfigError.self, "\(cert) \(key)") { try e.validate() }
        }

        var both = CoordinatorConfig()
        #expect(both.publicURL(boundPort: 8443).hasPrefix("http://"))
        try both.apply(configText: "listen = \"127.0.0.1:8443\"\ntls_cert = \"/c.pem\"\ntls_key = \"/k.pem\"\n", file: "t.toml")
        try both.validate()
        #expect(both.tlsCertificateFile == "/c.pem" && both.tlsKeyFile == "/k.pem")
        #expect(both.publicURL(boundPort: nil) == "https://127.0.0.1:8443")
        #expect(both.ownRelay(boundPort: 443, coordinatorKey: "").url == "https://127.0.0.1:443/relay")
        // An explicit public_url is taken as it is (behind a proxy that terminates TLS, say).
        both.publicURL = "http://coord.example.com:8080"
        #expect(both.effectivePublicURL == "http://coord.example.com:8080")
    }

    /// stun_listen (--stun-listen): an IP literal or a wildcard; unset, STUN binds the listen host.
    @Test func stunListenIsAnAddressDefaultingToTheListenHost() throws {
        var c = CoordinatorConfig()
        try c.apply(configText: "listen = \"127.0.0.1:8080\"\n", file: "t.toml")
        try c.validate()
        #expect(c.stunHost == nil && c.effectiveSTUNHost == "127.0.0.1")
        for host in ["::", "0.0.0.0", "2001:db8::100", "203.0.113.100"] {
            var s = c
            try s.apply(configText: "stun_listen = \"\(host)\"\n", file: "t.toml")
            try s.validate()
            #expect(s.effectiveSTUNHost == host)
        }
        for bad in ["coord.example.com", "", "[::]", "203.0.113.100:3478"] {
            var b = c; b.stunHost = bad
            do {
                try b.validate()
                Issue.record("stun_listen \(bad) was accepted")
            } catch let e as CoordinatorConfig.ConfigError {
                #expect(e.description.contains("stun_listen"), "\(e)")
            }
        }
    }
}
