import Foundation
import MeshBase
import MeshConfig
import MeshCrypto
import MeshIO
import WireGuard

extension WireGuardUAPIState {
    /// What the device does not hold of a peer and the mode knows: where its datagrams go now
    /// (mesh mode: the path layer's direct address), its preshared key and allowed IPs (the
    /// config file, or the netmap).
    public struct PeerDetails: Sendable {
        public var endpoint: UDPAddress?
        public var presharedKey: PresharedKey?
        public var allowedIPs: [IPPrefix]
        public init(endpoint: UDPAddress? = nil, presharedKey: PresharedKey? = nil, allowedIPs: [IPPrefix] = []) {
            self.endpoint = endpoint
            self.presharedKey = presharedKey
            self.allowedIPs = allowedIPs
        }
    }
}

extension NodeRuntime {
    /// The state `wg show` reads now, the device's counters with the mode's `details`.
    func wireGuardState(details: (Peer.Snapshot) -> WireGuardUAPIState.PeerDetails) -> WireGuardUAPIState {
        let monotonicNow = SystemClock.now()
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        let (scaled, overflow) = Int64(spec.tv_sec).multipliedReportingOverflow(by: 1_000_000_000)
        let unixNow = overflow ? Int64.max : scaled &+ Int64(spec.tv_nsec)
        let peers = device.peers.map { peer -> WireGuardUAPIState.Peer in
            let s = peer.snapshot()
            let d = details(s)
            return .init(publicKey: s.publicKey, presharedKey: d.presharedKey, endpoint: d.endpoint,
                         lastHandshakeUnixNanoseconds: s.lastHandshakeAt.map {
                             WireGuardUAPIState.unixNanoseconds(of: $0, monotonicNow: monotonicNow, unixNow: unixNow)
                         },
                         txBytes: s.txBytes, rxBytes: s.rxBytes,
                         persistentKeepaliveSeconds: WireGuardUAPIState.seconds(s.persistentKeepalive),
                         allowedIPs: d.allowedIPs)
        }
        return WireGuardUAPIState(privateKey: device.privateKey, listenPort: udp.port, peers: peers)
    }
}

extension StandaloneNode {
    /// Standalone mode: the device's endpoint (it roams as WireGuard's does), the preshared
    /// keys and allowed IPs of the config file.
    func serveWireGuardUAPI(config: TunnelConfig) {
        var byKey: [PublicKey: WireGuardUAPIState.PeerDetails] = [:]
        for peer in config.peers {
            byKey[peer.publicKey] = .init(presharedKey: peer.presharedKey, allowedIPs: peer.allowedIPs.map(\.masked))
        }
        let table = byKey
        runtime.wireGuardUAPI.serve { [weak runtime] in
            runtime?.wireGuardState { s in
                var d = table[s.publicKey] ?? .init()
                d.endpoint = s.endpoint
                return d
            }
        }
    }
}

extension JoinedNode {
    /// Mesh mode: the endpoint is the path layer's confirmed direct address (a relayed peer
    /// has none: its datagrams go to the relay); the allowed IPs are the netmap's addresses
    /// the device was given; no preshared keys.
    func serveWireGuardUAPI() {
        let sync = self.sync, magic = paths.magic
        runtime.wireGuardUAPI.serve { [weak runtime] in
            guard let runtime else { return nil }
            var allowed: [String: [IPPrefix]] = [:]
            for config in sync.installed.values {
                allowed[config.publicKey] = config.allowedIPs.compactMap { try? IPPrefix($0).masked }
            }
            var direct: [PublicKey: UDPAddress] = [:]
            for path in magic.pathStatus() where path.trusted {
                if let address = path.direct { direct[path.nodeKey] = address }
            }
            return runtime.wireGuardState { s in
                .init(endpoint: direct[s.publicKey], allowedIPs: allowed[s.publicKey.base64] ?? [])
            }
        }
    }
}
