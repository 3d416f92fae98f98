import MeshStatus
import WireGuard

extension NodeStatus.PeerStatus {
    /// The WireGuard facts both modes show; mesh mode adds name, addresses and path.
    init(_ p: Peer.Snapshot, now: MonotonicTime) {
        self.init(publicKey: p.publicKey.base64, endpoint: p.endpoint?.description,
                  lastHandshakeSecondsAgo: p.lastHandshakeAt.map { Int((now - $0).nanoseconds / 1_000_000_000) },
                  rxBytes: p.rxBytes, txBytes: p.txBytes,
                  persistentKeepalive: p.persistentKeepalive.map { Int($0.nanoseconds / 1_000_000_000) })
    }
}
