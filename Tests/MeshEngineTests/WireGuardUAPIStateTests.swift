import MeshBase
import MeshCrypto
import MeshEngine
import Testing

@Suite struct WireGuardUAPIStateTests {
    /// Already clamped as X25519 keys are (PrivateKey clamps what it is given).
    let own = try! PrivateKey(rawBytes: [0x10] + [UInt8](repeating: 0x11, count: 30) + [0x51])
    let ownHex = "10" + String(repeating: "11", count: 30) + "51"
    let peerA = try! PublicKey(rawBytes: (0..<32).map { UInt8($0) })
    let peerB = try! PublicKey(rawBytes: [UInt8](repeating: 0xfe, count: 32))

    @Test func exactBytesOfAnAnswer() throws {
        let psk = try PresharedKey(rawBytes: [UInt8](repeating: 0xab, count: 32))
        let v6 = UDPAddress(addressBytes: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1], port: 51820)!
        let state = WireGuardUAPIState(privateKey: own, listenPort: 41641, fwmark: 7, peers: [
            .init(publicKey: peerB, endpoint: v6, txBytes: 0, rxBytes: 0, persistentKeepaliveSeconds: 0,
                  allowedIPs: [try IPPrefix("fd7a:115c:a1e0::2/128")]),
            .init(publicKey: peerA, presharedKey: psk, endpoint: UDPAddress(ipv4: 203, 0, 113, 12, port: 41641),
                  lastHandshakeUnixNanoseconds: 1_765_000_123_456_789_012, txBytes: 1234, rxBytes: 5678,
                  persistentKeepaliveSeconds: 25,
                  allowedIPs: [try IPPrefix("100.64.0.2/32"), try IPPrefix("10.1.2.3/24")]),
        ])
        let hab = String(repeating: "ab", count: 32)
        let hA = (0..<32).map { String(format: "%02x", $0) }.joined(), hB = String(repeating: "fe", count: 32)
        // Peers in the order of their base64 keys.
        let a = """
        public_key=\(hA)
        preshared_key=\(hab)
        protocol_version=1
        endpoint=203.0.113.12:41641
        last_handshake_time_sec=1765000123
        last_handshake_time_nsec=456789012
        tx_bytes=1234
        rx_bytes=5678
        persistent_keepalive_interval=25
        allowed_ip=100.64.0.2/32
        allowed_ip=10.1.2.0/24

        """
        let b = """
        public_key=\(hB)
        protocol_version=1
        endpoint=[2001:db8::1]:51820
        last_handshake_time_sec=0
        last_handshake_time_nsec=0
        tx_bytes=0
        rx_bytes=0
        persistent_keepalive_interval=0
        allowed_ip=fd7a:115c:a1e0::2/128

        """
        let first = peerA.base64 < peerB.base64 ? a + b : b + a
        #expect(state.getAnswer == "private_key=\(ownHex)\nlisten_port=41641\nfwmark=7\n" + first + "errno=0\n\n")
    }

    @Test func noPeersAndNoPortAndARelayedPeerWithoutEndpoint() {
        let bare = WireGuardUAPIState(privateKey: own, listenPort: 0, peers: [])
        #expect(bare.getAnswer == "private_key=\(ownHex)\nerrno=0\n\n")
        let relayed = WireGuardUAPIState(privateKey: own, listenPort: 1, peers: [.init(publicKey: peerA)])
        #expect(!relayed.getAnswer.contains("endpoint="))
        #expect(!relayed.getAnswer.contains("preshared_key="))
        let zeroPSK = WireGuardUAPIState(privateKey: own, listenPort: 1, peers: [.init(publicKey: peerA, presharedKey: .zero)])
        #expect(!zeroPSK.getAnswer.contains("preshared_key="))
    }

    @Test func outOfRangeValuesClampInsteadOfTrapping() {
        let state = WireGuardUAPIState(privateKey: own, listenPort: 1, peers: [
            .init(publicKey: peerA, lastHandshakeUnixNanoseconds: -5, persistentKeepaliveSeconds: Int.max),
        ])
        #expect(state.getAnswer.contains("last_handshake_time_sec=0\nlast_handshake_time_nsec=0\n"))
        #expect(state.getAnswer.contains("persistent_keepalive_interval=65535\n"))
    }

    @Test func handshakeTimeFromBothClocks() {
        let now = MonotonicTime(nanoseconds: 10_000_000_000)
        #expect(WireGuardUAPIState.unixNanoseconds(of: MonotonicTime(nanoseconds: 7_500_000_000), monotonicNow: now,
                                                   unixNow: 1_000_000_000_000_000_000) == 999_999_997_500_000_000)
        // An instant "in the future" (clock readings raced) is now, not later.
        #expect(WireGuardUAPIState.unixNanoseconds(of: MonotonicTime(nanoseconds: 11_000_000_000), monotonicNow: now,
                                                   unixNow: 42) == 42)
        #expect(WireGuardUAPIState.unixNanoseconds(of: MonotonicTime(nanoseconds: .min), monotonicNow: MonotonicTime(nanoseconds: .max),
                                                   unixNow: 42) == 0)
        #expect(WireGuardUAPIState.seconds(nil) == 0)
        #expect(WireGuardUAPIState.seconds(.milliseconds(25_900)) == 25)
    }

    @Test func descriptionNeverShowsThePrivateKey() {
        let state = WireGuardUAPIState(privateKey: own, listenPort: 1, peers: [])
        #expect(!"\(state)".contains(ownHex))
        #expect(!"\(state)".contains(own.base64))
    }
}
