// Writes the committed seed corpus (Fuzz/Corpus/<target>/): small valid inputs for each target,
// built with the real encoders and the targets' fixed keys. Linked like a fuzz target (the
// instrumented modules need libFuzzer's runtime); it does its work in LLVMFuzzerInitialize and
// exits. Run it with `Fuzz/run.sh seeds`.
import Foundation
import Disco
import MeshCrypto
@testable import MeshWire
import Relay
import WireGuard

private func key(_ tag: UInt8) -> PrivateKey { try! PrivateKey(rawBytes: fixedKeyBytes(tag)) }
private func be16(_ n: Int) -> [UInt8] { [UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] }
private func chunk(_ b: [UInt8]) -> [UInt8] { be16(b.count) + b }

private let outDir = ProcessInfo.processInfo.environment["FUZZ_SEED_DIR"] ?? ""
private func write(_ target: String, _ name: String, _ bytes: [UInt8]) {
    let path = "\(outDir)/\(target)/\(name)"
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
}
private func write(_ target: String, _ name: String, _ text: String) { write(target, name, Array(text.utf8)) }

private func stunSeeds() {
    let txid = STUNTransactionID(Array(1...12))!
    let v4 = STUNAddress(ip: [203, 0, 113, 7], port: 40000)!
    let v6 = STUNAddress(ip: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1], port: 3478)!
    write("stun_message", "binding-request", [0] + STUNMessage.bindingRequest(transactionID: txid).encode())
    write("stun_message", "binding-request-change-port",
          [0] + STUNMessage.bindingRequest(transactionID: txid, changePort: true).encode())
    write("stun_message", "binding-success-v4", [0] + STUNMessage.bindingSuccess(
        transactionID: txid, mapped: v4, software: "meshcoord", responseOrigin: v4, otherAddress: v4).encode())
    write("stun_message", "binding-success-v6", [0] + STUNMessage.bindingSuccess(transactionID: txid, mapped: v6).encode())
    write("stun_message", "binding-error-420", [0] + STUNMessage.bindingError(
        transactionID: txid, code: 420, reason: "Unknown Attribute", software: "meshcoord").encode())
    write("stun_message", "request-with-integrity", [0] + STUNMessage(
        type: .bindingRequest, transactionID: txid, attributes: [.username("fuzz:user")])
        .encode(fingerprint: true, integrityKey: Array("fuzz-integrity-key".utf8)))
    // Netcheck mode: the target writes its own transaction id into bytes 8..<20.
    write("stun_message", "netcheck-answer", [1] + STUNMessage.bindingSuccess(transactionID: txid, mapped: v4).encode())
    write("stun_message", "netcheck-answer-other-port",
          [0x83] + STUNMessage.bindingSuccess(transactionID: txid, mapped: v4).encode(fingerprint: false))
}

private func relayFrames() -> [RelayFrame] {
    let k = key(6).publicKey
    var entropy = SeededEntropy(seed: 1)
    var nonce = [UInt8](repeating: 0, count: 24)
    nonce.withUnsafeMutableBytes { entropy.fill($0) }
    let info = RelayClientProof.seal(nodeKey: key(6), serverKey: key(5).publicKey, unixTime: 1_700_000_000, nonce: nonce)!
    return [.serverKey(key(5).publicKey), info, .serverInfo(Array(0..<40)),
            .sendPacket(destination: k, packet: Array(0..<20)), .recvPacket(source: k, packet: [0x45, 0, 0, 20]),
            .keepAlive, .ping(Array(0..<8)), .pong(Array(0..<8)), .peerGone(k, reason: .notHere)]
}

private func relayFrameSeeds() {
    let frames = relayFrames()
    write("relay_frame", "all-types-whole", [0] + frames.flatMap(\.encoded))
    write("relay_frame", "all-types-split-7", [7] + frames.flatMap(\.encoded))
    write("relay_frame", "ping-bytewise", [1] + RelayFrame.ping(Array(0..<8)).encoded)
}

private func joinTokenSeeds() {
    let token = JoinToken(coordinatorURL: "http://192.0.2.10:8080", coordinatorKey: key(4).publicKey,
                          secret: Array(0..<32))
    write("join_token", "token-text", [0] + Array(token.encoded.utf8))
    write("join_token", "token-text-wrapped", [0] + Array((String(token.encoded.prefix(30)) + "\n  " +
                                                         String(token.encoded.dropFirst(30))).utf8))
    write("join_token", "token-body", [1] + key(4).publicKey.rawBytes + Array(0..<32) + Array("https://coord.example:443".utf8))
}

private func tunnelConfigSeeds() {
    let ours = key(20), peer1 = key(21).publicKey, peer2 = key(22).publicKey
    write("tunnel_config", "two-peers.conf", """
        [Interface]
        PrivateKey = \(ours.base64)
        Address = 10.0.0.1/24, fd00::1/64
        ListenPort = 51820
        MTU = 1420

        [Peer]
        PublicKey = \(peer1.base64)
        PresharedKey = \(PresharedKey(bytes: SIMD32(repeating: 7)).base64)
        AllowedIPs = 10.0.0.2/32, fd00::2/128
        Endpoint = 192.0.2.2:51820
        PersistentKeepalive = 25

        [Peer]
        PublicKey = \(peer2.base64)
        AllowedIPs = 10.0.1.0/24
        Endpoint = [2001:db8::3]:51820

        """)
    write("tunnel_config", "minimal.conf", "[Interface]\nPrivateKey = \(ours.base64)\n")
    write("tunnel_config", "wg-quick-extras.conf", """
        # written for wg-quick
        [Interface]
        PrivateKey = \(ours.base64)  # comment
        Address = 10.9.0.1/32
        DNS = 10.9.0.53
        PostUp = true
        Table = off
        SaveConfig = false

        [Peer]
        PublicKey = \(peer1.base64)
        AllowedIPs = 0.0.0.0/0, ::/0
        Endpoint = 198.51.100.4:4500

        """.replacingOccurrences(of: "\n", with: "\r\n"))
}

private func coordinatorConfigSeeds() {
    write("coordinator_config", "full.toml", """
        # meshcoord config
        state_dir = "/var/lib/meshcoord"
        listen = "0.0.0.0:8080"
        public_url = "https://coord.example:8443"
        stun_ports = [3478, 3479]
        ipv4_prefix = "100.64.0.0/10"
        ipv6_prefix = 'fd7a:115c:a1e0::/48'
        admin_socket = "/run/meshcoord/admin.sock"
        keepalive_seconds = 50
        offline_after_seconds = 60.5
        max_body_bytes = 65_536
        trusted_proxies = ["127.0.0.1", "::1"]
        domain = "mesh"
        sync = "normal"
        log_level = "debug"

        [[relay]]
        id = "r1"
        name = "relay \\"one\\""
        url = "https://relay1.example/relay"
        stun_host = "198.51.100.1"
        stun_ports = [3478]

        [[relay]]
        id = "r2"
        url = "http://[2001:db8::1]:8080/relay"

        """)
    write("coordinator_config", "minimal.toml", "listen = \"[::]:0\"\nstun_ports = []\n")
}

private func daemonConfigSeeds() {
    write("daemon_config", "full.toml", """
        state_dir = "/var/lib/mesh"
        port = 41641
        interface = "mesh0"
        socket = "/run/mesh/meshd.sock"
        join_file = "/etc/mesh/join-token"
        log_level = "info"

        """)
    write("daemon_config", "small.toml", "port = 0\n# comment\nhostname = 'db-1'\n")
}

/// A DNS message as dns_message takes it: the first byte says UDP (0) or TCP (1).
private func dnsSeeds() {
    func name(_ labels: [String]) -> [UInt8] { labels.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) } + [0] }
    /// EDNS0 OPT: 1232-byte UDP payload, version 0, a client cookie (as dig 9.18 sends).
    let opt: [UInt8] = [0] + be16(41) + be16(1232) + [0, 0, 0, 0] + be16(12) + be16(10) + be16(8) + Array(1...8)
    func query(_ transport: UInt8, id: Int = 0x1234, flags: Int, _ question: [UInt8], type: Int, edns: Bool) -> [UInt8] {
        [transport] + be16(id) + be16(flags) + be16(1) + be16(0) + be16(0) + be16(edns ? 1 : 0)
            + question + be16(type) + be16(1) + (edns ? opt : [])
    }
    let rdAD = 0x0120, rd = 0x0100
    write("dns_message", "a-b-mesh", query(0, flags: rdAD, name(["b", "mesh"]), type: 1, edns: true))
    write("dns_message", "aaaa-a-mesh-tcp", query(1, flags: rd, name(["A", "MESH"]), type: 28, edns: false))
    write("dns_message", "forward", query(0, flags: rdAD, name(["coord", "lab", "test"]), type: 1, edns: true))
    write("dns_message", "nxdomain", query(0, flags: rdAD, name(["zz", "mesh"]), type: 1, edns: true))
    write("dns_message", "ptr-v4", query(0, flags: rdAD, name(["2", "0", "64", "100", "in-addr", "arpa"]), type: 12, edns: true))
    let v6Nibbles = "fd7a115ca1e000000000000000000001".reversed().map(String.init)
    write("dns_message", "ptr-v6", query(0, flags: rdAD, name(v6Nibbles + ["ip6", "arpa"]), type: 12, edns: true))
    // Opcode 2 (STATUS): NOTIMP.
    write("dns_message", "status-opcode", query(0, flags: 0x1000, name(["b", "mesh"]), type: 1, edns: false))
    // A label then a pointer back to it (x.x.x... forever), with no type or class after it.
    write("dns_message", "compressed", [0] + be16(1) + be16(rd) + be16(1) + be16(0) + be16(0) + be16(0) + [1, 0x78, 0xC0, 0x0C])
    // A name that is a pointer to itself.
    write("dns_message", "pointer-loop", [0] + be16(1) + be16(rd) + be16(1) + be16(0) + be16(0) + be16(0) + [0xC0, 0x0C] + be16(1) + be16(1))
}

/// Programs for dns_forward (see dns_forward.swift): an entropy seed, then steps (0 forward,
/// 1 answer to the last query sent, 2 a datagram from an address, 3 time, 4 TCP framer bytes).
private func dnsForwardSeeds() {
    let query: [UInt8] = be16(0x1234) + be16(0x0100) + be16(1) + be16(0) + be16(0) + be16(0)
        + [5] + Array("coord".utf8) + [3] + Array("lab".utf8) + [4] + Array("test".utf8) + [0] + be16(1) + be16(1)
    // coord.lab.test A 203.0.113.100, TTL 60, by a pointer to the question's name.
    let answerRecord: [UInt8] = [0xC0, 0x0C] + be16(1) + be16(1) + [0, 0, 0, 60] + be16(4) + [203, 0, 113, 100]
    write("dns_forward", "forward_answer", [7] + [0] + chunk(query) + [0] + [1, 0x81, 0x80] + chunk(answerRecord) + [0])
    write("dns_forward", "forward_expire", [3] + [0] + chunk(query) + [1] + [3] + be16(2500) + [3] + be16(2500))
    write("dns_forward", "framer", [0] + [4] + chunk(chunk(query) + be16(5) + Array("abc".utf8)))
    write("dns_forward", "stray", [1] + [2] + chunk(query) + [0] + be16(53))
}

private func discoSeeds() {
    let receiver = key(1), sender = key(2)
    var entropy = SeededEntropy(seed: 3)
    let txid = DiscoTransactionID(bytes: (0x0102_0304_0506_0708, 0x090a_0b0c))
    let messages: [(String, DiscoMessage)] = [
        ("ping", .ping(txid: txid, nodeKey: key(9).publicKey, padding: 0)),
        ("ping-padded", .ping(txid: txid, nodeKey: key(9).publicKey, padding: 40)),
        ("pong", .pong(txid: txid, source: UDPAddress(ipv4: 203, 0, 113, 5, port: 41641))),
        ("call-me-maybe", .callMeMaybe(endpoints: [UDPAddress(ipv4: 192, 0, 2, 1, port: 1),
                                                   UDPAddress(ipv4: 198, 51, 100, 2, port: 65535)])),
    ]
    for (name, m) in messages {
        let sealed = DiscoPacket.seal(m, from: sender, to: receiver.publicKey, entropy: &entropy)!
        write("disco_packet", "sealed-\(name)", [0] + sealed)
        write("disco_packet", "sealed-\(name)-slow-open", [6] + sealed)
        write("disco_packet", "plain-\(name)", [1] + [UInt8](repeating: 9, count: 24) + m.encoded)
    }
}

private func controlSeeds() {
    let nodeKey = key(3), coordPublic = key(4).publicKey
    let now: Int64 = 1_700_000_000_000
    let rid: [UInt8] = Array(0..<16)
    let nonce: [UInt8] = Array(100..<124)
    let disco = key(12).publicKey.base64
    let enc = JSONEncoder()
    func plain<B: Codable>(_ body: B) -> [UInt8] {
        Array(try! enc.encode(SealedPayload(ts: now, rid: Base64.encode(rid), body: body)))
    }
    let register = RegisterRequest(authKey: Base64URL.encode(Array(0..<32)), hostname: "node-a", os: "linux", discoKey: disco)
    let map = MapRequest(sinceVersion: 3, endpoints: ["192.0.2.5:41641", "[2001:db8::5]:41641"], homeRelay: "default",
                         discoKey: disco, wait: true)
    let endpoints = EndpointsRequest(endpoints: ["198.51.100.7:1234"], homeRelay: "r1", discoKey: disco)
    let logout = LogoutRequest(reason: "bye")
    let envelopes: [(String, [UInt8])] = [
        ("register", try! ControlSeal.sealRequest(register, nodeKey: nodeKey, coordinatorKey: coordPublic,
                                                  nowMillis: now, requestID: rid, nonce: nonce)),
        ("map", try! ControlSeal.sealRequest(map, nodeKey: nodeKey, coordinatorKey: coordPublic,
                                             nowMillis: now, requestID: rid, nonce: nonce)),
    ]
    for (n, e) in envelopes { write("control_envelope", "envelope-\(n)", [0] + e) }
    write("control_envelope", "plain-register", [1] + plain(register))
    write("control_envelope", "plain-map", [1] + plain(map))
    write("control_envelope", "plain-endpoints", [1] + plain(endpoints))
    write("control_envelope", "plain-logout", [1] + plain(logout))
    let node = NodeInfo(id: 2, name: "node-b", nodeKey: key(13).publicKey.base64, discoKey: disco, ipv4: "100.64.0.2",
                        ipv6: "fd7a:115c:a1e0::2", endpoints: ["192.0.2.9:41641"], homeRelay: "default", online: true,
                        lastSeen: now, tags: ["tag:a"], os: "linux")
    let relay = RelayInfo(id: "default", name: "coordinator", url: "http://192.0.2.10:8080/relay",
                          stunHost: "192.0.2.10", stunPorts: [3478, 3479])
    let mapResponse = MapResponse(kind: .full, version: 4, self: node, peers: [node], relays: [relay], domain: "mesh")
    let registerResponse = RegisterResponse(nodeID: 1, name: "node-a", ipv4: "100.64.0.1", ipv6: "fd7a:115c:a1e0::1",
                                            ipv4Prefix: "100.64.0.0/10", ipv6Prefix: "fd7a:115c:a1e0::/48",
                                            tags: [], relays: [relay])
    write("control_envelope", "reply-map", [2] + plain(mapResponse))
    write("control_envelope", "reply-register", [2] + plain(registerResponse))
    write("control_envelope", "reply-endpoints", [2] + plain(EndpointsResponse(version: 9)))
    write("control_envelope", "json-map-response", [3] + Array(try! enc.encode(mapResponse)))
    write("control_envelope", "json-error", [3] + Array(try! enc.encode(ErrorBody(.badRequest, "nope"))))
}

private func relayServerSeeds() {
    // Script ops (see relay_server.swift): 0 accept, 1 raw bytes, 2 proof, 3 packet, 4 tick,
    // 5 dequeue, 6 close, 7 revoke/reinstate, 8 ping/keepalive, 9 dequeueAll.
    var s: [UInt8] = []
    s += [0, 0]                                  // accept A, accept B
    s += [2, 0, 0, 0] + Array(0..<24) + [1]      // A proves key 0, skew 0, version 1
    s += [2, 1, 1, 0] + Array(24..<48) + [1]     // B proves key 1
    s += [3, 0, 1] + chunk(Array(0..<60))        // A -> key 1
    s += [5, 1, 8, 0x10, 0]                      // B dequeues
    s += [8, 0, 0] + Array(0..<8)                // A pings
    s += [3, 1, 200] + chunk([1, 2, 3])          // B -> unknown key (PeerGone notHere)
    s += [4, 0, 100, 1]                          // 100 s pass
    s += [7, 1, 0]                               // revoke key 1
    s += [6, 0]                                  // A closes
    write("relay_server", "two-clients", s)
    let raw = relayFrames()[1].encoded + RelayFrame.sendPacket(destination: key(7).publicKey, packet: [0x45]).encoded
    write("relay_server", "raw-stream", [0, 1, 0] + chunk(raw) + [9, 0])
}

private func relayClientSeeds() {
    let k = key(7).publicKey
    var s: [UInt8] = [1]
    let frames: [RelayFrame] = [.recvPacket(source: k, packet: Array(0..<28)), .ping(Array(0..<8)), .keepAlive,
                                .peerGone(k, reason: .disconnected)]
    for f in frames { s += [0] + chunk(f.encoded) }
    s += [3, 0]                                   // our ping
    s += [2, 0, 200]                              // 2 s pass
    s += [3, 1] + chunk([0x45, 0, 0, 20])         // send
    write("relay_client", "connected-session", s)
    write("relay_client", "unconnected-server-key", [0, 0] + chunk(RelayFrame.serverKey(key(5).publicKey).encoded))
    write("relay_client", "pinned-handshake", [3, 0] + chunk(RelayFrame.pong(Array(0..<8)).encoded))
}

private func wireguardSeeds() {
    // A real initiation from the configured peer to the local device, as a raw datagram.
    let remote = Device(privateKey: key(10))
    let peer = try! remote.addPeer(publicKey: key(9).publicKey, endpoint: UDPAddress(ipv4: 192, 0, 2, 1, port: 51820),
                                   now: MonotonicTime(nanoseconds: 1_000_000_000))
    var entropy = SeededEntropy(seed: 99)
    var buf = [UInt8](repeating: 0, count: 256)
    let got = buf.withUnsafeMutableBytes {
        remote.createInitiation(peer: peer, now: MonotonicTime(nanoseconds: 1_000_000_000),
                                wallClock: TAI64N(unixSeconds: 1_700_000_000, nanoseconds: 0), entropy: &entropy, into: $0)
    }!
    let initiation = Array(buf[0..<got.length])
    // Script ops (see wireguard_device.swift): 0 raw, 1 mac1 garbage, 2 remote initiation,
    // 3 local initiation, 4 remote transport, 5 time, 6 replay, 7 local send, 8 follow-ups,
    // 9 cookie reply, 10 deliver to remote, 11 remote restarts.
    let ipv4: [UInt8] = [0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1] + [UInt8](repeating: 0, count: 8)
    write("wireguard_device", "raw-initiation", [0, 0, 0] + chunk(initiation))
    write("wireguard_device", "handshake-then-data",
          [0] + [2, 0, 0] + [4] + chunk(ipv4) + [1, 0] + [6, 0] + [5, 0, 30, 0] + [4] + chunk([]) + [0, 0])
    write("wireguard_device", "psk-local-initiates", [1] + [3, 0] + [7] + chunk(ipv4) + [8, 10] + [5, 0x13, 0x88, 1])
    write("wireguard_device", "under-load-cookie", [2] + [2, 0, 0, 2, 0, 0, 2, 0, 0] + [10] + [2, 0, 0] + [9] + Array(0..<64))
    write("wireguard_device", "mac1-garbage", [4] + [1, 0] + Array(0..<148) + [0] + [1, 1] + Array(0..<92) + [1])
    write("wireguard_device", "corrupted-initiation", [0] + [2, 1, 16] + chunk([0xff, 0xff, 0xff, 0xff]) + [0])
    write("wireguard_device", "keepalive-timers", [8] + [2, 0, 0] + [5, 0x01, 0x00, 1] + [5, 0x10, 0x00, 1] + [11] + [3, 1])
}

private func relayURLSeeds() {
    write("relay_url", "https-name", "https://relay.example.test/r")
    write("relay_url", "ipv4-root", "http://192.0.2.1/")
    write("relay_url", "ipv6-port", "http://[2001:db8::7]:80/relay")
    write("relay_url", "coordinator-relay", "http://coord.example.test:8080/relay")
}

private func httpsProxySeeds() {
    write("https_proxy", "answer-established", [0] + Array("HTTP/1.1 200 Connection established\r\n\r\n\u{16}\u{03}".utf8))
    write("https_proxy", "answer-407", [0] + Array("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n".utf8))
    write("https_proxy", "answer-partial", [0] + Array("HTTP/1.0 200 OK\r\nVia: x".utf8))
    write("https_proxy", "url-credentials", [1] + Array("http://alice:s%3Acret@proxy.example.test:3128".utf8))
    write("https_proxy", "url-ipv6", [1] + Array("http://[2001:db8::7]:8080/".utf8))
    write("https_proxy", "url-bare", [1] + Array("198.51.100.7".utf8))
}

private func policyDocumentSeeds() {
    write("policy_document", "example", """
    // Developers reach the database, every member the web host.
    {
      "groups": {"group:dev": ["alice@", "bob"]},
      "tagOwners": {"tag:db": ["group:dev"], "tag:web": ["alice"]},
      "hosts": {"office": "192.0.2.0/24"},
      "acls": [
        {"action": "accept", "src": ["group:dev"], "dst": ["tag:db:5432"]},
        {"action": "accept", "src": ["autogroup:member"], "dst": ["tag:web:80,443"]},
      ],
      "tests": [
        {"src": "alice", "accept": ["tag:db:5432", "tag:web:443"], "deny": ["tag:db:22"]},
        {"src": "carol@", "accept": ["tag:web:80"], "deny": ["tag:db:5432"]},
      ],
    }
    """)
    write("policy_document", "prefixes-protocols", """
    {"hosts": {"office": "192.0.2.0/24", "db6": "fd7a:115c:a1e0::a"},
     "tagOwners": {"tag:db": [], "tag:web": ["tag:db"]},
     "acls": [
       {"action": "accept", "src": ["office", "100.64.0.0/30"], "dst": ["tag:db:22,8000-8999"]},
       {"action": "accept", "src": ["*"], "dst": ["100.64.0.20:53", "[fd7a:115c:a1e0::14]:53"], "proto": "udp"},
       {"action": "accept", "src": ["fd7a:115c:a1e0::/120"], "dst": ["db6:*"], "proto": "ipv6-icmp"},
       {"action": "accept", "src": ["bob"], "dst": ["*:*"], "proto": 47},
     ]}
    """)
    write("policy_document", "autogroup-self", """
    {"groups": {"group:staff": ["alice", "carol", "erin@example.com"]},
     "acls": [{"action": "accept", "src": ["group:staff", "autogroup:member"], "dst": ["autogroup:self:22", "alice:*"]}],
     "tests": [{"src": "alice", "accept": ["alice:22"]}, {"src": "bob", "deny": ["alice:22"], "proto": "tcp"}]}
    """)
    write("policy_document", "failing-test", #"{"acls": [{"action": "accept", "src": ["alice"], "dst": ["bob:22"]}], "tests": [{"src": "bob", "accept": ["alice:22"]}]}"#)
    write("policy_document", "unknown-group", "{\n  \"acls\": [\n    {\"action\": \"accept\", \"src\": [\"group:ops\"], \"dst\": [\"*:*\"]}\n  ]\n}")
    write("policy_document", "hujson-syntax", "\u{FEFF}/* c */ {\"a\": [1, -2.5e3, true, null, \"\\u00e9\\ud83d\\ude00\\n\",], // x\n \"b\": {},}")
}

private func packetFilterSeeds() {
    // Script ops (see packet_filter.swift): 0 raw inbound, 1 raw outbound, 2 time, 3 rules,
    // 4 built packet (0x84: outbound). A built packet: shape, pick, port bytes, fields, extra.
    func script(_ parts: [[UInt8]]) -> [UInt8] { parts.flatMap { $0 } }
    let fd7a: [UInt8] = [0xFD, 0x7A, 0x11, 0x5C, 0xA1, 0xE0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    let synV4: [UInt8] = [0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 100, 64, 0, 1, 100, 64, 0, 10,
                          0x9C, 0x40, 0x15, 0x38, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xFF, 0xFF, 0, 0, 0, 0]
    let udpV6: [UInt8] = script([[0x60, 0, 0, 0, 0, 8, 17, 64], fd7a, [2], fd7a, [10], [0x9C, 0x40, 0, 53, 0, 8, 0, 0]])
    let tcpSYN: [UInt8] = [4, 0, 0, 0, 1, 0, 0, 0, 0, 0x02, 0, 0]
    let tcpSYNACKOut: [UInt8] = [0x84, 0, 0x88, 0, 3, 0, 0, 0, 0, 0x12, 0, 0]
    let tcpData: [UInt8] = [4, 0, 0, 0, 1, 0, 0, 0, 0, 0x10, 5, 0]
    let udp6: [UInt8] = [4, 5, 1, 0, 2, 4, 0]
    write("packet_filter", "syn-then-data", script([[0], tcpSYN, tcpSYNACKOut, tcpData]))
    write("packet_filter", "udp-v6-rule-change", script([[1], udp6, [3, 0], udp6, [2, 0x01, 0x00], [3, 3], udp6]))
    write("packet_filter", "echo-and-error", script([[3], [4, 6, 0, 0, 0, 0, 0], [0x84, 6, 0x88, 0, 0, 1, 0],
                                                     [4, 8, 0, 0, 2, 0, 0], [4, 9, 1, 0, 2, 1, 0]]))
    write("packet_filter", "raw-packets", script([[0], [0], chunk(synV4), [1], chunk(udpV6), [0], chunk(udpV6)]))
    write("packet_filter", "fragments-extensions", script([[0], [4, 5, 0, 0, 2, 0, 0x30], [4, 5, 0, 0, 2, 0, 0x85],
                                                           [4, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0x83], [4, 10, 0x80, 0, 0, 1, 0]]))
    var flood: [[UInt8]] = [[1]]
    for i in 0..<24 {
        let peer = UInt8(1 + i % 2), sourcePort = UInt8(i), destinationPort = UInt8(i / 8)
        flood.append([4, 5, peer, sourcePort, destinationPort, 0, 0])
    }
    write("packet_filter", "flood-evicts", script(flood))
}

private func netmapFilterSeeds() {
    // JSON as a netmap carries it (mode 0).
    let json = #"{"enforced":true,"policyVersion":7,"rules":[{"sources":["100.64.0.3/32","fd7a:115c:a1e0::3/128"],"#
        + #""destinations":["100.64.0.2","fd7a:115c:a1e0::2"],"protocols":[6,17],"ports":[{"first":22,"last":22},{"first":8000,"last":8999}]},"#
        + #"{"sources":["0.0.0.0/0","::/0"],"destinations":["100.64.0.2"],"protocols":[1,58],"ports":[]}]}"#
    write("netmap_filter", "json-two-rules", [0] + Array(json.utf8))
    write("netmap_filter", "json-not-enforced", [0] + Array(#"{"enforced":false,"rules":[]}"#.utf8))
    write("netmap_filter", "json-bad-source", [0] + Array(#"{"enforced":true,"rules":[{"sources":["100.64.0.1/33"],"destinations":[],"protocols":[6],"ports":[]}]}"#.utf8))
    // Built (mode 1): flags, rule count, then per rule: sources, destinations, protocols, ports.
    // Text picks index netmap_filter.swift's list (0 "100.64.0.0/10", 6 "100.64.0.1", 7 "fd7a:115c:a1e0::1").
    write("netmap_filter", "built-valid", [1, 0x04, 2,
                                           2, 0, 2, 2, 6, 7, 2, 6, 17, 1, 0, 22, 0, 22,
                                           1, 4, 1, 6, 1, 1, 1, 0, 0, 0xFF, 0xFF])
    write("netmap_filter", "built-backwards-ports", [1, 0x04, 1, 1, 0, 1, 6, 1, 6, 1, 0, 90, 0, 80])
    write("netmap_filter", "built-raw-text", [1, 0x04, 1, 1, 250, 8] + Array("1.2.3.4/".utf8) + [1, 6, 0, 0])
    // One bound met exactly (0xF4: ports, 32,768 ranges) and one crossed (0xF1: destinations, 3).
    write("netmap_filter", "bound-ports-exact", [1, 0xF4, 1, 1, 0, 1, 6, 1, 6, 0])
    write("netmap_filter", "bound-destinations-over", [1, 0xF1, 1, 1, 0, 1, 6, 1, 6, 0])
}

/// The first byte: how the rest is split into reads (0 whole, 1 bytewise, else pieces).
private func wireguardUAPISeeds() {
    write("wireguard_uapi", "get", [0] + Array("get=1\n\n".utf8))
    write("wireguard_uapi", "get-bytewise", [1] + Array("get=1\n\n".utf8))
    write("wireguard_uapi", "set-split", [2] + Array("set=1\nprivate_key=00\nlisten_port=51820\npublic_key=01\nallowed_ip=100.64.0.2/32\n\n".utf8))
    write("wireguard_uapi", "get-then-junk", [0] + Array("get=1\nx\n".utf8))
    write("wireguard_uapi", "long-first-line", [0] + Array("protocol_version=1\n\n".utf8))
}

private func localAPIRequestSeeds() {
    for verb in ["status", "version", "metrics", "netcheck", "down", "up", "logout"] {
        write("local_api_request", verb, verb + "\n")
    }
    write("local_api_request", "ping", "ping db-1 1500\n")
    write("local_api_request", "ping-address", "  ping 100.64.0.2 30000  \nstatus\n")
    write("local_api_request", "ping-bad-timeout", "ping fd7a:115c:a1e0::2 99\n")
    write("local_api_request", "unknown", "whoami please\n")
    write("local_api_request", "crlf", "status\r\n")
}

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    guard !outDir.isEmpty else {
        FileHandle.standardError.write(Data("set FUZZ_SEED_DIR\n".utf8))
        exit(2)
    }
    stunSeeds(); relayFrameSeeds(); joinTokenSeeds(); tunnelConfigSeeds(); coordinatorConfigSeeds()
    discoSeeds(); controlSeeds(); relayServerSeeds(); relayClientSeeds(); wireguardSeeds(); relayURLSeeds(); httpsProxySeeds()
    policyDocumentSeeds(); packetFilterSeeds(); daemonConfigSeeds(); dnsSeeds(); dnsForwardSeeds()
    netmapFilterSeeds(); wireguardUAPISeeds(); localAPIRequestSeeds()
    print("seeds written to \(outDir)")
    exit(0)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt { 0 }
