import Foundation
import MeshConfig
import MeshCrypto
import Testing

/// Real keys, derived deterministically so failures reproduce.
enum TestKeys {
    static let all: [PrivateKey] = {
        _ = Sodium.isReady
        var entropy = SeededEntropy(seed: 1)
        return (0..<8).map { _ in PrivateKey.generate(using: &entropy) }
    }()
    static var ours: PrivateKey { all[0] }
    static var ourPublic: PublicKey { all[0].publicKey }
    static var peer1: PublicKey { all[1].publicKey }
    static var peer2: PublicKey { all[2].publicKey }
    static var psk: PresharedKey { PresharedKey(bytes: all[3].bytes) }
}

private func parseError(_ text: String) -> ConfigError? {
    do {
        _ = try TunnelConfigParser.parse(text)
        return nil
    } catch {
        return error
    }
}

private let fullFile = """
# wg0 for the interop lab
[Interface]
PrivateKey = \(TestKeys.ours.base64)
Address = 10.0.0.1/24, fd00::1/64   # both families
ListenPort = 51820
MTU = 1420
DNS = 1.1.1.1
PostUp = iptables -A FORWARD -i %i -j ACCEPT

[Peer]
PublicKey = \(TestKeys.peer1.base64)
PresharedKey = \(TestKeys.psk.base64)
AllowedIPs = 10.0.0.2/32, fd00::2/128
AllowedIPs = 192.168.0.0/16
Endpoint = 192.0.2.1:51820
PersistentKeepalive = 25

  [peer]
\tpublickey=\(TestKeys.peer2.base64)
ALLOWEDIPS = 10.0.0.3
endpoint = [2001:db8::1]:51821
persistentkeepalive = off
"""

@Suite struct TunnelConfigParserTests {
    @Test func parsesAFullFile() throws {
        let config = try TunnelConfigParser.parse(fullFile)
        #expect(config.interface.privateKey == TestKeys.ours)
        #expect(config.interface.addresses == [try IPPrefix("10.0.0.1/24"), try IPPrefix("fd00::1/64")])
        #expect(config.interface.listenPort == 51820)
        #expect(config.interface.mtu == 1420)
        #expect(config.peers.count == 2)

        let first = config.peers[0]
        #expect(first.publicKey == TestKeys.peer1)
        #expect(first.presharedKey == TestKeys.psk)
        #expect(first.allowedIPs.map(\.description) == ["10.0.0.2/32", "fd00::2/128", "192.168.0.0/16"])
        #expect(first.endpoint == (try Endpoint("192.0.2.1:51820")))
        #expect(first.persistentKeepalive == 25)

        let second = config.peers[1]
        #expect(second.publicKey == TestKeys.peer2)
        #expect(second.presharedKey == nil)
        #expect(second.allowedIPs.map(\.description) == ["10.0.0.3/32"])
        #expect(second.endpoint?.description == "[2001:db8::1]:51821")
        #expect(second.persistentKeepalive == 0)

        #expect(config.warnings.count == 2)
        #expect(config.warnings[0].hasPrefix("line 7: DNS"))
        #expect(config.warnings[1].hasPrefix("line 8: PostUp"))
    }

    @Test func minimalFileLeavesOptionalsUnset() throws {
        let config = try TunnelConfigParser.parse("[Interface]\nPrivateKey = \(TestKeys.ours.base64)\n")
        #expect(config.interface.addresses.isEmpty)
        #expect(config.interface.listenPort == nil)
        #expect(config.interface.mtu == nil)
        #expect(config.peers.isEmpty)
        #expect(config.warnings.isEmpty)
    }

    @Test func acceptsCRLFAndTabsAndSectionsInAnyOrder() throws {
        let text = "[Peer]\r\nPublicKey\t=\t\(TestKeys.peer1.base64)\r\nAllowedIPs = 10.0.0.2/32 ,\t10.0.0.4/32\r\n"
            + "[Interface]\r\n  PrivateKey = \(TestKeys.ours.base64)  # trailing comment\r\n"
        let config = try TunnelConfigParser.parse(text)
        #expect(config.peers.map(\.publicKey) == [TestKeys.peer1])
        #expect(config.peers[0].allowedIPs.count == 2)
        #expect(config.interface.privateKey == TestKeys.ours)
    }

    @Test func emptyListValueAddsNothing() throws {
        let config = try TunnelConfigParser.parse("""
            [Interface]
            PrivateKey = \(TestKeys.ours.base64)
            [Peer]
            PublicKey = \(TestKeys.peer1.base64)
            AllowedIPs =
            """)
        #expect(config.peers[0].allowedIPs.isEmpty)
    }

    @Test func errorDescriptionHasTheDocumentedShape() throws {
        let text = """
            [Interface]
            PrivateKey = \(TestKeys.ours.base64)

            [Peer]
            PublicKey = \(TestKeys.peer1.base64)
            # next line is wrong
            AllowedIPs = 10.0.0.0/33
            """
        let error = try #require(parseError(text))
        #expect(error.line == 7)
        #expect(error.description.hasPrefix("line 7: AllowedIPs: '10.0.0.0/33' is not a valid IP prefix"))
    }

    // MARK: Error cases

    struct ErrorCase: Sendable, CustomTestStringConvertible {
        var name: String
        var text: String
        var line: Int
        var fragment: String
        var testDescription: String { name }
    }

    static let interfaceHead = "[Interface]\nPrivateKey = \(TestKeys.ours.base64)\n"
    static let peerHead = interfaceHead + "[Peer]\nPublicKey = \(TestKeys.peer1.base64)\n"

    static let errorCases: [ErrorCase] = [
        ErrorCase(name: "unknown section", text: interfaceHead + "[Peers]\n", line: 3, fragment: "unknown section [Peers]"),
        ErrorCase(name: "malformed header", text: "[Interface\n", line: 1, fragment: "malformed section header"),
        ErrorCase(name: "text after header", text: "[Interface] x\n", line: 1, fragment: "malformed section header"),
        ErrorCase(name: "unknown interface key", text: interfaceHead + "Foo = bar\n", line: 3, fragment: "unknown key 'Foo'"),
        ErrorCase(name: "unknown peer key", text: peerHead + "Bar = 1\n", line: 5, fragment: "unknown key 'Bar' in [Peer]"),
        ErrorCase(name: "ignored key in wrong section", text: peerHead + "DNS = 1.1.1.1\n", line: 5, fragment: "unknown key 'DNS'"),
        ErrorCase(name: "peer key in interface", text: interfaceHead + "Endpoint = 1.2.3.4:5\n", line: 3,
                  fragment: "unknown key 'Endpoint' in [Interface]"),
        ErrorCase(name: "key outside a section", text: "# hi\nPrivateKey = \(TestKeys.ours.base64)\n[Interface]\n",
                  line: 2, fragment: "'PrivateKey' appears before any [Interface] or [Peer] section"),
        ErrorCase(name: "missing =", text: interfaceHead + "\nListenPort 51820\n", line: 4, fragment: "missing '='"),
        ErrorCase(name: "missing key", text: interfaceHead + " = 5\n", line: 3, fragment: "missing key"),
        ErrorCase(name: "missing PrivateKey", text: "# c\n[Interface]\nAddress = 10.0.0.1/24\n", line: 2,
                  fragment: "no PrivateKey"),
        ErrorCase(name: "empty PrivateKey", text: "[Interface]\nPrivateKey =\n", line: 2, fragment: "PrivateKey: missing value"),
        ErrorCase(name: "missing PublicKey", text: interfaceHead + "\n[Peer]\nAllowedIPs = 10.0.0.2/32\n", line: 4,
                  fragment: "[Peer] section has no PublicKey"),
        ErrorCase(name: "missing PublicKey in a middle peer",
                  text: interfaceHead + "[Peer]\nEndpoint = 1.2.3.4:5\n[Peer]\nPublicKey = \(TestKeys.peer1.base64)\n",
                  line: 3, fragment: "no PublicKey"),
        ErrorCase(name: "PrivateKey not base64", text: "[Interface]\nPrivateKey = not*base64!\n", line: 2,
                  fragment: "PrivateKey: not a valid key: key is not valid base64"),
        ErrorCase(name: "PrivateKey wrong length", text: "[Interface]\nPrivateKey = AAAA\n", line: 2,
                  fragment: "32 bytes, got 3"),
        ErrorCase(name: "PublicKey not base64", text: interfaceHead + "[Peer]\nPublicKey = abc\n", line: 4,
                  fragment: "PublicKey: not a valid key"),
        ErrorCase(name: "PresharedKey not base64", text: peerHead + "PresharedKey = %%%\n", line: 5,
                  fragment: "PresharedKey: not a valid key"),
        ErrorCase(name: "duplicate peer", text: peerHead + "[Peer]\nPublicKey = \(TestKeys.peer1.base64)\n", line: 6,
                  fragment: "duplicate peer \(TestKeys.peer1.base64) (first on line 4)"),
        ErrorCase(name: "peer with our own key",
                  text: peerHead + "[Peer]\nPublicKey = \(TestKeys.ourPublic.base64)\n", line: 6,
                  fragment: "own public key"),
        ErrorCase(name: "own key before the interface",
                  text: "[Peer]\nPublicKey = \(TestKeys.ourPublic.base64)\n" + interfaceHead, line: 2,
                  fragment: "own public key"),
        ErrorCase(name: "ListenPort too large", text: interfaceHead + "ListenPort = 65536\n", line: 3,
                  fragment: "ListenPort: 65536 is outside 0...65535"),
        ErrorCase(name: "ListenPort negative", text: interfaceHead + "ListenPort = -1\n", line: 3, fragment: "outside 0...65535"),
        ErrorCase(name: "ListenPort huge", text: interfaceHead + "ListenPort = 99999999999999999999999\n", line: 3,
                  fragment: "outside 0...65535"),
        ErrorCase(name: "ListenPort not a number", text: interfaceHead + "ListenPort = fifty\n", line: 3,
                  fragment: "ListenPort: 'fifty' is not a number"),
        ErrorCase(name: "MTU too small", text: interfaceHead + "MTU = 575\n", line: 3, fragment: "MTU: 575 is outside 576...65535"),
        ErrorCase(name: "MTU too large", text: interfaceHead + "MTU = 65536\n", line: 3, fragment: "outside 576...65535"),
        ErrorCase(name: "MTU not a number", text: interfaceHead + "MTU = 1.5k\n", line: 3, fragment: "MTU: '1.5k' is not a number"),
        ErrorCase(name: "keepalive too large", text: peerHead + "PersistentKeepalive = 65536\n", line: 5,
                  fragment: "PersistentKeepalive: 65536 is outside 0...65535"),
        ErrorCase(name: "keepalive negative", text: peerHead + "PersistentKeepalive = -5\n", line: 5, fragment: "outside 0...65535"),
        ErrorCase(name: "keepalive word", text: peerHead + "PersistentKeepalive = sometimes\n", line: 5,
                  fragment: "'sometimes' is not a number"),
        ErrorCase(name: "bad AllowedIPs prefix", text: peerHead + "AllowedIPs = 10.0.0.1/32, 10.0.0.0/33\n", line: 5,
                  fragment: "AllowedIPs: '10.0.0.0/33' is not a valid IP prefix"),
        ErrorCase(name: "bad Address", text: interfaceHead + "Address = 10.0.0.300/24\n", line: 3,
                  fragment: "Address: '10.0.0.300/24' is not a valid IP prefix"),
        ErrorCase(name: "empty list entry", text: peerHead + "AllowedIPs = 10.0.0.1/32,,10.0.0.2/32\n", line: 5,
                  fragment: "AllowedIPs: empty entry"),
        ErrorCase(name: "hostname endpoint", text: peerHead + "Endpoint = vpn.example.com:51820\n", line: 5,
                  fragment: "Endpoint: 'vpn.example.com:51820' is not a valid endpoint: hostnames are not supported, use an IP address"),
        ErrorCase(name: "endpoint without port", text: peerHead + "Endpoint = 192.0.2.1\n", line: 5, fragment: "missing ':port'"),
        ErrorCase(name: "empty endpoint", text: peerHead + "Endpoint =\n", line: 5, fragment: "Endpoint: missing value"),
        ErrorCase(name: "duplicate [Interface]", text: interfaceHead + "\n[Interface]\n", line: 4,
                  fragment: "duplicate [Interface] section (first on line 1)"),
        ErrorCase(name: "PrivateKey twice", text: interfaceHead + "PrivateKey = \(TestKeys.all[4].base64)\n", line: 3,
                  fragment: "PrivateKey is set more than once in this section (first on line 2)"),
        ErrorCase(name: "Endpoint twice", text: peerHead + "Endpoint = 1.2.3.4:5\nEndpoint = 1.2.3.4:6\n", line: 6,
                  fragment: "Endpoint is set more than once"),
        ErrorCase(name: "same AllowedIPs for two peers",
                  text: peerHead + "AllowedIPs = 10.0.0.0/24\n[Peer]\nPublicKey = \(TestKeys.peer2.base64)\nAllowedIPs = 10.0.0.9/24\n",
                  line: 8, fragment: "AllowedIPs: 10.0.0.0/24 is already given to the peer of line 3 (on line 5)"),
        ErrorCase(name: "empty file", text: "", line: 0, fragment: "missing [Interface] section"),
        ErrorCase(name: "only peers", text: "[Peer]\nPublicKey = \(TestKeys.peer1.base64)\n", line: 0,
                  fragment: "missing [Interface] section"),
    ]

    @Test(arguments: errorCases)
    func reportsLineAndProblem(_ errorCase: ErrorCase) throws {
        let error = try #require(parseError(errorCase.text), "\(errorCase.name) parsed without error")
        #expect(error.line == errorCase.line, "\(error)")
        #expect(error.message.contains(errorCase.fragment), "\(error)")
        if error.line > 0 {
            #expect(error.description == "line \(error.line): \(error.message)")
        }
    }

    @Test func secretsAreNeverEchoedInErrors() throws {
        // One character short of a real key: the message must not leak the rest of it.
        let almost = String(TestKeys.ours.base64.dropLast(2))
        let badKey = try #require(parseError("[Interface]\nPrivateKey = \(almost)\n"))
        #expect(!badKey.description.contains(almost))
        let noEquals = try #require(parseError("[Interface]\nPrivateKey \(TestKeys.ours.base64)\n"))
        #expect(!noEquals.description.contains(TestKeys.ours.base64))
        let badPSK = try #require(parseError(Self.peerHead + "PresharedKey = \(almost)\n"))
        #expect(!badPSK.description.contains(almost))
    }

    @Test func ignoredKeysBecomeWarningsEvenWhenRepeated() throws {
        let text = Self.interfaceHead + ["DNS = 1.1.1.1", "Table = off", "PreUp = true", "PostUp = a", "PostUp = b",
                                         "PreDown = c", "PostDown = d", "SaveConfig = true", "fwmark = 0x1"]
            .joined(separator: "\n")
        let config = try TunnelConfigParser.parse(text)
        #expect(config.warnings.count == 9)
        #expect(config.warnings.last == "line 11: FwMark is not supported by meshd and was ignored")
    }

    // MARK: Round trip

    @Test func renderOfAFullFileParsesBackIdentically() throws {
        let parsed = try TunnelConfigParser.parse(fullFile)
        let again = try TunnelConfigParser.parse(parsed.render())
        #expect(again.interface == parsed.interface)
        #expect(again.peers == parsed.peers)
        #expect(again.warnings.isEmpty)
    }

    @Test func randomConfigsRoundTrip() throws {
        var rng = SeededEntropy(seed: 11)
        var entropy = SeededEntropy(seed: 12)
        for _ in 0..<300 {
            let config = randomConfig(rng: &rng, entropy: &entropy)
            let rendered = config.render()
            let parsed = try TunnelConfigParser.parse(rendered)
            #expect(parsed == config, "\(rendered)")
        }
    }

    // MARK: Fuzz

    /// The parser faces hand-edited files; whatever the bytes, it must answer with a config
    /// or a ConfigError, never trap. Any config it accepts must also survive render→parse.
    @Test func survivesRandomAndMutatedInput() throws {
        var rng = SeededEntropy(seed: 2024)
        let tokens = ["=", "[", "]", "#", ",", ":", "/", "\n", "\r\n", " ", "\t", "::", "0", "65535", "65536", "-",
                      "[Peer]", "[Interface]", "PublicKey", "AllowedIPs", "Endpoint", "=\n", "é", "\u{0}", "\u{FEFF}",
                      "\u{301}", "ff", ".", "off", "9999999999999999999999"]
        let base = Array(fullFile.utf8)
        var accepted = 0, rejected = 0
        for iteration in 0..<10_000 {
            let text: String
            switch iteration % 4 {
            case 0:
                let length = Int.random(in: 0..<300, using: &rng)
                text = String(decoding: (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }, as: UTF8.self)
            case 1:
                // Random characters drawn from the config alphabet reach deeper than raw bytes.
                let alphabet = Array("[]=#,:/.\n \tabcdefPeerInterfacePublicKeyAllowedIPs0123456789+/")
                let length = Int.random(in: 0..<300, using: &rng)
                text = String((0..<length).map { _ in alphabet.randomElement(using: &rng)! })
            default:
                var bytes = base
                for _ in 0..<Int.random(in: 1...6, using: &rng) {
                    let position = Int.random(in: 0...bytes.count, using: &rng)
                    switch rng.next() % 4 {
                    case 0 where position < bytes.count:
                        let end = min(bytes.count, position + Int.random(in: 1...20, using: &rng))
                        bytes.removeSubrange(position..<end)
                    case 1:
                        bytes.insert(contentsOf: Array(tokens.randomElement(using: &rng)!.utf8), at: position)
                    case 2 where position < bytes.count:
                        bytes[position] = UInt8.random(in: 0...255, using: &rng)
                    default:
                        bytes.insert(UInt8.random(in: 0...127, using: &rng), at: position)
                    }
                }
                text = String(decoding: bytes, as: UTF8.self)
            }

            do {
                let config = try TunnelConfigParser.parse(text)
                accepted += 1
                let again = try TunnelConfigParser.parse(config.render())
                #expect(again.interface == config.interface && again.peers == config.peers, "iteration \(iteration)")
            } catch {
                // The thrown type is ConfigError by signature; check it points inside the text.
                rejected += 1
                let lineCount = text.split(omittingEmptySubsequences: false,
                                           whereSeparator: { $0 == "\n" || $0 == "\r\n" }).count
                #expect((0...lineCount).contains(error.line), "iteration \(iteration): \(error)")
                #expect(!error.message.isEmpty)
            }
        }
        #expect(accepted + rejected == 10_000)
        // Mutations of a valid file should not all be rejected, or the fuzzer tests nothing.
        #expect(accepted > 100, "accepted \(accepted)")
    }

    // MARK: Loading

    @Test func loadReadsAFileAndNamesItInErrors() throws {
        let directory = FileManager.default.temporaryDirectory
        let good = directory.appendingPathComponent("meshconfig-test-\(UUID().uuidString).conf")
        try fullFile.write(to: good, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: good) }
        #expect(try TunnelConfigParser.load(path: good.path).peers.count == 2)

        let bad = directory.appendingPathComponent("meshconfig-test-\(UUID().uuidString).conf")
        try "[Interface]\nMTU = 10\n".write(to: bad, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: bad) }
        do {
            _ = try TunnelConfigParser.load(path: bad.path)
            Issue.record("expected an error")
        } catch {
            #expect(error.path == bad.path)
            #expect(error.line == 2)
            #expect(error.description.hasPrefix("\(bad.path): line 2: MTU"))
        }
    }

    @Test func loadReportsAnUnreadableFile() {
        let path = "/nonexistent/meshconfig/wg0.conf"
        do {
            _ = try TunnelConfigParser.load(path: path)
            Issue.record("expected an error")
        } catch {
            #expect(error.line == 0)
            #expect(error.description.hasPrefix("\(path): cannot read config file"))
        }
    }
}

private func randomConfig(rng: inout SeededEntropy, entropy: inout SeededEntropy) -> TunnelConfig {
    func randomPrefix() -> IPPrefix {
        let address: IPAddress = rng.next() % 2 == 0
            ? .v4(UInt32.random(in: .min ... .max, using: &rng))
            : .v6(high: rng.next(), low: rng.next() % 3 == 0 ? 0 : rng.next())
        return try! IPPrefix(address: address, length: Int.random(in: 0...address.bitWidth, using: &rng))
    }
    func maybe<T>(_ make: () -> T) -> T? { rng.next() % 2 == 0 ? make() : nil }

    let interface = InterfaceSection(
        privateKey: PrivateKey.generate(using: &entropy),
        addresses: (0..<Int.random(in: 0...3, using: &rng)).map { _ in randomPrefix() },
        listenPort: maybe { UInt16.random(in: 0...65535, using: &rng) },
        mtu: maybe { Int.random(in: 576...65535, using: &rng) })
    // A prefix belongs to one peer only (the parser refuses a second owner).
    var claimed = Set<IPPrefix>()
    let peers = (0..<Int.random(in: 0...4, using: &rng)).map { _ in
        PeerSection(
            publicKey: PrivateKey.generate(using: &entropy).publicKey,
            presharedKey: maybe { PresharedKey(bytes: PrivateKey.generate(using: &entropy).bytes) },
            allowedIPs: (0..<Int.random(in: 0...4, using: &rng)).map { _ in randomPrefix() }.filter { p in
                if claimed.contains(p.masked) { return false }
                claimed.insert(p.masked)
                return true
            },
            endpoint: maybe {
                Endpoint(address: randomPrefix().address, port: UInt16.random(in: 1...65535, using: &rng))
            },
            persistentKeepalive: maybe { Int.random(in: 0...65535, using: &rng) })
    }
    return TunnelConfig(interface: interface, peers: peers)
}
