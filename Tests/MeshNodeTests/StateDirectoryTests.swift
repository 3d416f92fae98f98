import Foundation
import MeshCrypto
import MeshNode
import MeshTestSupport
import MeshWire
import Testing

@Suite struct StateDirectoryTests {
    @Test func keyIsMadeOnceAndKept() throws {
        let dir = StateDirectory(path: tempStateDir("sd") + "/nested/state")
        let k1 = try dir.loadOrCreateNodeKey()
        let k2 = try dir.loadOrCreateNodeKey()
        #expect(k1 == k2 && k1.count == 32)
        var st = stat()
        #expect(stat(dir.path, &st) == 0 && st.st_mode & 0o777 == 0o700)
        #expect(stat(dir.nodeKeyPath, &st) == 0 && st.st_mode & 0o777 == 0o600)
        // Written as `wg genkey` writes keys.
        let text = try String(contentsOfFile: dir.nodeKeyPath, encoding: .utf8)
        #expect(try PrivateKey(base64: text.trimmingCharacters(in: .whitespacesAndNewlines)).rawBytes == k1)
    }

    @Test func readableNodeKeyIsWarnedAbout() throws {
        let dir = StateDirectory(path: tempStateDir("sdperm"))
        _ = try dir.loadOrCreateNodeKey()
        #expect(dir.nodeKeyPermissionWarning() == nil)
        chmod(dir.nodeKeyPath, 0o644)
        let warning = try #require(dir.nodeKeyPermissionWarning())
        #expect(warning.contains("644") && warning.contains(dir.nodeKeyPath))
        // The warning names the file, never its content.
        let text = try String(contentsOfFile: dir.nodeKeyPath, encoding: .utf8)
        #expect(!warning.contains(text.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    @Test func damagedFilesAreNamed() throws {
        let dir = StateDirectory(path: tempStateDir("sd2"))
        try "not a key\n".write(toFile: dir.nodeKeyPath, atomically: true, encoding: .utf8)
        #expect { try dir.loadOrCreateNodeKey() } throws: { "\($0)".contains(dir.nodeKeyPath) }
        try "{".write(toFile: dir.registrationPath, atomically: true, encoding: .utf8)
        #expect { try dir.loadRegistration() } throws: { "\($0)".contains("registration.json") }
    }

    @Test func discoKeyIsMadeOnceAndKeptPrivate() throws {
        let dir = StateDirectory(path: tempStateDir("sddisco"))
        let k1 = try dir.loadOrCreateDiscoKey()
        let k2 = try dir.loadOrCreateDiscoKey()
        #expect(k1.rawBytes == k2.rawBytes)
        #expect(k1.rawBytes != (try dir.loadOrCreateNodeKey()))
        var st = stat()
        #expect(stat(dir.discoKeyPath, &st) == 0 && st.st_mode & 0o777 == 0o600)
        try "damaged\n".write(toFile: dir.discoKeyPath, atomically: true, encoding: .utf8)
        #expect { try dir.loadOrCreateDiscoKey() } throws: { "\($0)".contains(dir.discoKeyPath) && !"\($0)".contains("damaged\n") }
    }

    @Test func netmapIsKeptOnlyForItsRegistration() throws {
        let dir = StateDirectory(path: tempStateDir("sdnetmap"))
        let r = RegisterResponse(nodeID: 7, name: "laptop", ipv4: "100.64.0.7", ipv6: "fd7a::7", ipv4Prefix: "100.64.0.0/10",
                                 ipv6Prefix: "fd7a::/48", tags: [], relays: [])
        let key = Base64.encode([UInt8](repeating: 9, count: 32))
        let mine = SavedRegistration(coordinatorURL: "https://coord.example.test", coordinatorKey: key, response: r, registeredAt: 1)
        #expect(try dir.loadNetmap(for: mine) == nil)
        var netmap = NetmapState()
        netmap.apply(MapResponse(kind: .full, version: 9, self: node(7, "laptop"), peers: [node(2, "b"), node(3, "c")],
                                 relays: [RelayInfo(id: "fra", url: "https://relay.fra.example.test/relay", stunPorts: [3478])]))
        try dir.saveNetmap(netmap, for: mine, now: 100)
        var st = stat()
        #expect(stat(dir.netmapPath, &st) == 0 && st.st_mode & 0o777 == 0o600)
        let loaded = try #require(try dir.loadNetmap(for: mine))
        #expect(loaded == netmap)
        // Another node id or another coordinator: not ours.
        var otherNode = mine
        otherNode.nodeID = 8
        #expect(try dir.loadNetmap(for: otherNode) == nil)
        var otherCoordinator = mine
        otherCoordinator.coordinatorURL = "https://other.example.test"
        #expect(try dir.loadNetmap(for: otherCoordinator) == nil)
        // Damaged: named, not trusted.
        try "{\"netmap\":".write(toFile: dir.netmapPath, atomically: true, encoding: .utf8)
        #expect { try dir.loadNetmap(for: mine) } throws: { "\($0)".contains("netmap.json") }
        dir.removeNetmap()
        #expect(try dir.loadNetmap(for: mine) == nil)
    }

    @Test func registrationRoundTrip() throws {
        let dir = StateDirectory(path: tempStateDir("sd3"))
        #expect(try dir.loadRegistration() == nil)
        let r = RegisterResponse(nodeID: 7, name: "laptop", ipv4: "100.64.0.7", ipv6: "fd7a::7", ipv4Prefix: "100.64.0.0/10",
                                 ipv6Prefix: "fd7a::/48", tags: [], relays: [])
        let key = Base64.encode([UInt8](repeating: 9, count: 32))
        let saved = SavedRegistration(coordinatorURL: "http://192.0.2.1:8080", coordinatorKey: key, response: r, registeredAt: 1)
        try dir.saveRegistration(saved)
        #expect(try dir.loadRegistration() == saved)
        #expect(saved.coordinatorKeyBytes == [UInt8](repeating: 9, count: 32))
        let token = JoinToken(coordinatorURL: "http://192.0.2.1:8080", coordinatorKey: try PublicKey(rawBytes: [UInt8](repeating: 9, count: 32)),
                              secret: [UInt8](repeating: 1, count: 32))
        #expect(saved.matches(token))
        var other = token
        other.coordinatorURL = "http://198.51.100.1:8080"
        #expect(!saved.matches(other))
        dir.removeRegistration()
        #expect(try dir.loadRegistration() == nil)
    }
}
