import Foundation
import Logging
import MeshConfig
import MeshCrypto
import MeshIO
import WireGuard
import MeshStatus

/// A node run from a config file: the device, its TUN interface, its socket and the local API.
public final class StandaloneNode: Sendable {
    public let runtime: NodeRuntime
    let logger: Logger
    public var device: Device { runtime.device }
    public var tun: TunDevice { runtime.tun }
    public var udp: UDPTransport { runtime.udp }

    /// - Parameter interrupted: polled while a large config loads, so SIGTERM during the load
    ///   stops start-up at once (throws `Interrupted`).
    public init(config: TunnelConfig, interfaceName: String, socketPath: String,
                wireGuardSocketDirectory: String = WireGuardUAPIServer.defaultDirectory, logger: Logger,
                interrupted: () -> Bool = { false }) throws {
        self.logger = logger
        let device = Device(privateKey: config.interface.privateKey, mtu: config.interface.mtu ?? 1280)
        let now = SystemClock.now()
        // A config may hold many thousands of peers; SIGTERM during the load must still stop
        // meshd at once rather than after it.
        for (n, peer) in config.peers.enumerated() {
            if n % 1024 == 1023, interrupted() { throw Interrupted() }
            try device.addPeer(
                publicKey: peer.publicKey, presharedKey: peer.presharedKey,
                endpoint: peer.endpoint.map(UDPAddress.init),
                persistentKeepalive: (peer.persistentKeepalive ?? 0) > 0 ? .seconds(peer.persistentKeepalive!) : nil,
                allowedIPs: peer.allowedIPs.map { ($0.masked.address.networkBytes, $0.length) },
                now: now)
        }
        runtime = try NodeRuntime(device: device, interfaceName: interfaceName, listenPort: config.interface.listenPort ?? 0,
                                  socketPath: socketPath, wireGuardSocketDirectory: wireGuardSocketDirectory, logger: logger)
        let tun = runtime.tun
        for address in config.interface.addresses {
            try tun.addAddress(address.address.networkBytes, prefixLength: address.length)
        }
        try tun.setUp()
        for (n, peer) in config.peers.enumerated() {
            if n % 1024 == 1023, interrupted() { throw Interrupted() }
            for prefix in peer.allowedIPs {
                // The interface's own connected prefix already routes its addresses.
                if config.interface.addresses.contains(where: { $0.masked == prefix.masked }) { continue }
                try tun.addRoute(prefix.masked.address.networkBytes, prefixLength: prefix.length)
            }
        }
        serveWireGuardUAPI(config: config)
    }

    public func start() throws {
        try runtime.start { [self] in self.status() }
    }

    public func stop() { runtime.stop() }

    public func status() -> NodeStatus {
        let now = SystemClock.now()
        return runtime.status { NodeStatus.PeerStatus($0, now: now) }
    }
}

/// SIGINT or SIGTERM arrived while the node was still being set up.
public struct Interrupted: Error, CustomStringConvertible {
    public var description: String { "interrupted during start-up" }
}
