import Foundation
import Logging
import MeshConfig
import MeshCrypto
import MeshIO
import WireGuard
import MeshStatus

/// A node run from a config file: the device, its TUN interface, its socket and the local API.
final class StandaloneNode {
    let device: Device
    let tun: TunDevice
    let udp: UDPTransport
    let dataPlane: DataPlane
    let api: LocalAPI
    let logger: Logger

    init(config: TunnelConfig, interfaceName: String, socketPath: String, logger: Logger) throws {
        self.logger = logger
        let mtu = config.interface.mtu ?? 1280
        device = Device(privateKey: config.interface.privateKey, mtu: mtu)
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
        udp = try UDPTransport(port: config.interface.listenPort ?? 0)
        tun = try TunDevice(name: interfaceName)
        try tun.setMTU(mtu)
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
        dataPlane = DataPlane(device: device, tun: tun, udp: udp, logger: logger)
        api = LocalAPI(socketPath: socketPath, logger: logger)
    }

    func start() throws {
        dataPlane.start()
        try api.start { [self] in self.status() }
    }

    func stop() {
        api.stop()
        // The process exits next: signal the data plane's threads, do not wait for them.
        dataPlane.stop(timeout: .zero)
    }

    func status() -> NodeStatus {
        let now = SystemClock.now()
        let peers = device.peers.map { $0.snapshot() }.sorted { $0.publicKey.base64 < $1.publicKey.base64 }
        return NodeStatus(
            interface: tun.name,
            publicKey: device.publicKey.base64,
            listenPort: Int(udp.port),
            droppedDatagrams: dataPlane.counters.droppedDatagrams,
            drops: dataPlane.counters.dropsByReason,
            peers: peers.map { NodeStatus.PeerStatus($0, now: now) })
    }
}

/// SIGINT or SIGTERM arrived while the node was still being set up.
struct Interrupted: Error, CustomStringConvertible {
    var description: String { "interrupted during start-up" }
}
