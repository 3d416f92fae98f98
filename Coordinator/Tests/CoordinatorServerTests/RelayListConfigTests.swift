import CoordinatorServer
import Foundation
import MeshCrypto
import MeshWire
import Testing

/// The relay list nodes get: the coordinator's own relay first, then the `[[relay]]` extras,
/// each of which must pin a key.
@Suite struct RelayListConfigTests {
    static func relayKey() -> String {
        var e = SodiumEntropy()
        return PrivateKey.generate(using: &e).publicKey.base64
    }

    static let coordinatorKey = relayKey()

    static func parsed(_ text: String) throws -> CoordinatorConfig {
        var c = CoordinatorConfig()
        try c.apply(configText: text, file: "r.toml")
        try c.validate()
        return c
    }

    static func failure(_ text: String) -> String {
        do {
            _ = try parsed(text)
            return "accepted"
        } catch {
            return "\(error)"
        }
    }

    @Test func theCoordinatorsOwnRelayIsFirstAndExtrasFollow() throws {
        let fra = Self.relayKey(), nyc = Self.relayKey()
        let c = try Self.parsed("""
            public_url = "http://coord.example.com:8080/"
            stun_ports = [3478, 3479]
            [[relay]]
            id = "fra"
            name = "Frankfurt"
            url = "http://fra.example.com:8080/relay"
            stun_ports = [3478, 3479]
            key = "\(fra)"
            [[relay]]
            id = "nyc"
            url = "http://nyc.example.com:8080/relay"
            stun_host = "stun.nyc.example.com"
            key = "\(nyc)"
            """)
        let list = c.relays(boundPort: nil, coordinatorKey: Self.coordinatorKey)
        #expect(list.map(\.id) == ["default", "fra", "nyc"])
        #expect(list[0] == RelayInfo(id: "default", name: "coordinator", url: "http://coord.example.com:8080/relay",
                                     stunHost: nil, stunPorts: [3478, 3479], key: Self.coordinatorKey))
        #expect(list[1] == RelayInfo(id: "fra", name: "Frankfurt", url: "http://fra.example.com:8080/relay",
                                     stunPorts: [3478, 3479], key: fra))
        #expect(list[2].stunHost == "stun.nyc.example.com" && list[2].stunPorts == [] && list[2].key == nyc)
        #expect(c.extraRelayKeys == [fra, nyc])
    }

    @Test func withoutExtrasTheListIsTheCoordinatorAlone() throws {
        var c = CoordinatorConfig()
        c.listenHost = "192.0.2.7"
        c.listenPort = 0
        let list = c.relays(boundPort: 41000, coordinatorKey: Self.coordinatorKey)
        #expect(list == [RelayInfo(id: "default", name: "coordinator", url: "http://192.0.2.7:41000/relay",
                                   stunPorts: [3478, 3479], key: Self.coordinatorKey)])
        #expect(c.extraRelayKeys.isEmpty)
        // STUN needs two ports; with one it is off, so none is advertised.
        c.stunPorts = [3478]
        #expect(c.relays(boundPort: 41000, coordinatorKey: Self.coordinatorKey)[0].stunPorts == [])
        c.stunPorts = []
        #expect(c.relays(boundPort: 41000, coordinatorKey: Self.coordinatorKey)[0].stunPorts == [])
    }

    @Test func relayIDNamesTheOwnRelay() throws {
        let c = try Self.parsed("relay_id = \"hq\"\npublic_url = \"http://coord.example.com\"\n")
        #expect(c.relays(boundPort: nil, coordinatorKey: Self.coordinatorKey).map(\.id) == ["hq"])
        #expect(Self.failure("relay_id = \"\"\n").contains("r.toml:1: relay_id"))
        #expect(Self.failure("relay_id = \"a b\"\n").contains("relay_id"))
        #expect(Self.failure("relay_id = \"\(String(repeating: "x", count: 65))\"\n").contains("1-64"))
        var direct = CoordinatorConfig()
        direct.relayID = "\u{1b}[2J"
        #expect(throws: CoordinatorConfig.ConfigError.self) { try direct.validate() }
    }

    @Test func anExtraAtTheOwnURLIsLeftOut() throws {
        let key = Self.relayKey()
        let c = try Self.parsed("""
            public_url = "http://coord.example.com:8080"
            [[relay]]
            id = "old-self"
            url = "http://coord.example.com:8080/relay/"
            key = "\(key)"
            [[relay]]
            id = "fra"
            url = "http://fra.example.com:8080/relay"
            key = "\(key)"
            """)
        #expect(c.relays(boundPort: nil, coordinatorKey: Self.coordinatorKey).map(\.id) == ["default", "fra"])
        #expect(c.extrasAtOwnURL(boundPort: nil).map(\.id) == ["old-self"])
    }

    @Test func aRepeatedRelayIDIsAnError() throws {
        let key = Self.relayKey()
        let twice = Self.failure("""
            [[relay]]
            id = "fra"
            url = "http://a.example.com/relay"
            key = "\(key)"
            [[relay]]
            id = "fra"
            url = "http://b.example.com/relay"
            key = "\(key)"
            """)
        #expect(twice.contains("r.toml:6") && twice.contains("\"fra\"") && twice.contains("unique"), "\(twice)")
        let own = Self.failure("[[relay]]\nid = \"default\"\nurl = \"http://a.example.com/relay\"\nkey = \"\(key)\"\n")
        #expect(own.contains("r.toml:2") && own.contains("own relay"), "\(own)")
        let renamedOwn = Self.failure("relay_id = \"hq\"\n[[relay]]\nid = \"hq\"\nurl = \"http://a.example.com/relay\"\nkey = \"\(key)\"\n")
        #expect(renamedOwn.contains("relay_id"), "\(renamedOwn)")
        // Set in code (not from a file): validate() catches it too.
        var c = CoordinatorConfig()
        c.relays = [RelayInfo(id: "x", url: "http://a.example.com/relay", key: key),
                    RelayInfo(id: "x", url: "http://b.example.com/relay", key: key)]
        #expect { try c.validate() } throws: { "\($0)".contains("unique") }
        c.relays = [RelayInfo(id: "default", url: "http://a.example.com/relay", key: key)]
        #expect { try c.validate() } throws: { "\($0)".contains("own relay") }
    }

    @Test func everyExtraNeedsAUsableKeyAndTheErrorSaysHowToGetIt() throws {
        let missing = Self.failure("[[relay]]\nid = \"fra\"\nurl = \"http://fra.example.com/relay\"\n")
        #expect(missing.contains("r.toml:1") && missing.contains("needs key =") && missing.contains("meshcoord relay --print-key"),
                "\(missing)")
        let thirtyOne = Base64.encode([UInt8](repeating: 7, count: 31))
        let lowOrder = Base64.encode([UInt8](repeating: 0, count: 32))
        for bad in ["not base64!", "", thirtyOne, lowOrder, Self.relayKey() + "AAAA"] {
            let text = "[[relay]]\nid = \"fra\"\nurl = \"http://fra.example.com/relay\"\nkey = \"\(bad)\"\n"
            let e = Self.failure(text)
            #expect(e.contains("r.toml:4") && e.contains("X25519 public key") && e.contains("--print-key"), "\(bad): \(e)")
        }
        #expect(Self.failure("[[relay]]\nid = \"fra\"\nurl = \"http://fra.example.com/relay\"\nkey = 5\n").contains("string"))
        var c = CoordinatorConfig()
        c.relays = [RelayInfo(id: "fra", url: "http://fra.example.com/relay")]
        #expect { try c.validate() } throws: { "\($0)".contains("--print-key") }
        c.relays = [RelayInfo(id: "fra", url: "fra.example.com/relay", key: Self.relayKey())]
        #expect { try c.validate() } throws: { "\($0)".contains("http://") }
        c.relays = [RelayInfo(id: "fra", url: "http://fra.example.com/relay", key: Self.relayKey())]
        try c.validate()
    }

    @Test func aKeyIsKeptInCanonicalForm() throws {
        let raw = (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        let canonical = Base64.encode(raw)
        #expect(CoordinatorConfig.canonicalRelayKey(canonical) == canonical)
        #expect(CoordinatorConfig.canonicalRelayKey(" \(canonical) ") == canonical)
        let c = try Self.parsed("[[relay]]\nid = \"fra\"\nurl = \"http://fra.example.com/relay\"\nkey = \" \(canonical)\"\n")
        #expect(c.relays.first?.key == canonical)
        #expect(c.extraRelayKeys == [canonical])
    }
}
