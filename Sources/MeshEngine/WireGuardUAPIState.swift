import MeshBase
import MeshCrypto

/// What `wg show` reads from meshd over WireGuard's cross-platform userspace API (`get=1`):
/// the device's keys, port and peers, as plain values so the answer's exact bytes are a pure
/// function of them. Keys are the MeshCrypto types, whose descriptions redact secrets, so
/// printing a state by mistake never logs the private key.
public struct WireGuardUAPIState: Equatable, Sendable {
    public var privateKey: PrivateKey
    public var listenPort: UInt16
    /// Only printed when set (meshd sets no mark today).
    public var fwmark: UInt32?
    public var peers: [Peer]

    public init(privateKey: PrivateKey, listenPort: UInt16, fwmark: UInt32? = nil, peers: [Peer]) {
        self.privateKey = privateKey
        self.listenPort = listenPort
        self.fwmark = fwmark
        self.peers = peers
    }

    public struct Peer: Equatable, Sendable {
        public var publicKey: PublicKey
        public var presharedKey: PresharedKey?
        /// Where datagrams for the peer go now; nil when there is no such address (a relayed
        /// peer in mesh mode, a standalone peer that has no endpoint yet).
        public var endpoint: UDPAddress?
        /// Unix time of the last completed handshake in nanoseconds; nil when there was none.
        public var lastHandshakeUnixNanoseconds: Int64?
        public var txBytes: UInt64
        public var rxBytes: UInt64
        public var persistentKeepaliveSeconds: Int
        public var allowedIPs: [IPPrefix]

        public init(publicKey: PublicKey, presharedKey: PresharedKey? = nil, endpoint: UDPAddress? = nil,
                    lastHandshakeUnixNanoseconds: Int64? = nil, txBytes: UInt64 = 0, rxBytes: UInt64 = 0,
                    persistentKeepaliveSeconds: Int = 0, allowedIPs: [IPPrefix] = []) {
            self.publicKey = publicKey
            self.presharedKey = presharedKey
            self.endpoint = endpoint
            self.lastHandshakeUnixNanoseconds = lastHandshakeUnixNanoseconds
            self.txBytes = txBytes
            self.rxBytes = rxBytes
            self.persistentKeepaliveSeconds = persistentKeepaliveSeconds
            self.allowedIPs = allowedIPs
        }
    }

    /// The answer to `get=1`, field order as wireguard-go writes it: `private_key`,
    /// `listen_port`, `fwmark`, then per peer `public_key`, `preshared_key`,
    /// `protocol_version`, `endpoint`, `last_handshake_time_sec`/`_nsec`, `tx_bytes`,
    /// `rx_bytes`, `persistent_keepalive_interval`, `allowed_ip`; keys in lower-case hex;
    /// ended by `errno=0` and the empty line `wg` waits for. Peers in public-key order, so
    /// equal states give equal bytes.
    public var getAnswer: String {
        var lines: [String] = ["private_key=\(Self.hex(privateKey.rawBytes))"]
        if listenPort != 0 { lines.append("listen_port=\(listenPort)") }
        if let fwmark, fwmark != 0 { lines.append("fwmark=\(fwmark)") }
        for peer in peers.sorted(by: { $0.publicKey.base64 < $1.publicKey.base64 }) {
            lines.append("public_key=\(Self.hex(peer.publicKey.rawBytes))")
            if let psk = peer.presharedKey, !psk.isZero { lines.append("preshared_key=\(Self.hex(psk.rawBytes))") }
            lines.append("protocol_version=1")
            if let endpoint = peer.endpoint { lines.append("endpoint=\(endpoint)") }
            // Never a negative time: a handshake "before 1970" (a clock set back) reads as none.
            let unix = max(0, peer.lastHandshakeUnixNanoseconds ?? 0)
            lines.append("last_handshake_time_sec=\(unix / 1_000_000_000)")
            lines.append("last_handshake_time_nsec=\(unix % 1_000_000_000)")
            lines.append("tx_bytes=\(peer.txBytes)")
            lines.append("rx_bytes=\(peer.rxBytes)")
            lines.append("persistent_keepalive_interval=\(min(max(peer.persistentKeepaliveSeconds, 0), 65535))")
            for prefix in peer.allowedIPs { lines.append("allowed_ip=\(prefix.masked)") }
        }
        lines.append("errno=0")
        return lines.joined(separator: "\n") + "\n\n"
    }

    /// The Unix time (nanoseconds) of a monotonic instant, from one reading of both clocks;
    /// saturating, and never negative.
    public static func unixNanoseconds(of instant: MonotonicTime, monotonicNow: MonotonicTime, unixNow: Int64) -> Int64 {
        let age = max(0, (monotonicNow - instant).nanoseconds)
        let (unix, overflow) = unixNow.subtractingReportingOverflow(age)
        return overflow ? 0 : max(0, unix)
    }

    /// Whole seconds of a keepalive interval, 0 when there is none.
    public static func seconds(_ interval: Duration?) -> Int {
        guard let interval else { return 0 }
        return Int(clamping: max(0, interval.nanoseconds / 1_000_000_000))
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
