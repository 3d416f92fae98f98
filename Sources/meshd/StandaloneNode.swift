import Foundation
import Logging
import MeshConfig
import MeshCrypto
import MeshIO
import WireGuard
import MeshStatus

/// A node run from a config file: the device, its TUN interface, its socket and the local API.
final class StandaloneNode: Sendable {
    let runtime: NodeRuntime
    let logger: Logger
    var device: Device { runtime.device }
    var tun: TunDevice { runtime.tun }
    var udp: UDPTransport { runtime.udp }

    init(config: TunnelConfig, interfaceName: String, socketPath: String, logger: Logger) throws {
        self.logger = logger
        let device = Device(privateKey: config.interface.privateKey, mtu: config.interface.mtu ?? 1280)
        let now = SystemClock.now()
        // A config may hold many thousands of peers; SIGTERM during the load must still stop
        // meshd at once rather than after it (the signal is blocked, so it is polled).
        for (n, peer) in config.peers.enumerated() {
            if n % 1024 == 1023, SignalWaiter.terminationPending() { throw Interrupted() }
            try device.addPeer(
                publicKey: peer.publicKey, presharedKey: peer.presharedKey,
                endpoint: peer.endpoint.map(UDPAddress.init),
                persistentKeepalive: (peer.persistentKeepalive ?? 0) > 0 ? .seconds(peer.persistentKeepalive!) : nil,
                allowedIPs: peer.allowedIPs.map { ($0.masked.address.networkBytes, $0.length) },
                now: now)
        }
        runtime = try NodeRuntime(device: device, interfaceName: interfaceName, listenPort: config.interface.listenPort ?? 0,
                                  socketPath: socketPath, logger: logger)
        let tun = runtime.tun
        for address in config.interface.addresses {
            try tun.addAddress(address.address.networkBytes, prefixLength: address.length)
        }
        try tun.setUp()
        for (n, peer) in config.peers.enumerated() {
            if n % 1024 == 1023, SignalWaiter.terminationPending() { throw Interrupted() }
            for prefix in peer.allowedIPs {
                // The interface's own connected prefix already routes its addresses.
                if config.interface.addresses.contains(where: { $0.masked == prefix.masked }) { continue }
                try tun.addRoute(prefix.masked.address.networkBytes, prefixLength: prefix.length)
            }
        }
    }

    func start() throws {
        try runtime.start { [self] in self.status() }
    }

    func stop() { runtime.stop() }

    func status() -> NodeStatus {
        let now = SystemClock.now()
        return runtime.status { NodeStatus.PeerStatus($0, now: now) }
    }
}

/// SIGINT or SIGTERM arrived while the node was still being set up.
struct Interrupted: Error, CustomStringConvertible {
    var description: String { "interrupted during start-up" }
}
