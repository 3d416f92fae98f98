import Logging
import MeshIO
import MeshStatus
import WireGuard

/// What a running node is in either mode: the WireGuard device, its TUN interface, the UDP
/// socket, the data plane between them and the local API. Standalone mode configures it from a
/// wg-quick file (`StandaloneNode`); mesh mode from its registration and the coordinator's
/// netmap, and adds the path layer (`JoinedNode`).
public final class NodeRuntime: Sendable {
    public let device: Device
    public let tun: TunDevice
    public let udp: UDPTransport
    public let dataPlane: DataPlane
    public let api: LocalAPI
    /// `wg show` reads the node here (`/var/run/wireguard/<interface>.sock`).
    public let wireGuardUAPI: WireGuardUAPIServer

    /// Opens the UDP socket, the TUN device and the local API socket, in that order; each
    /// failure is one sentence (`StartupFailure`, `LocalAPIError`).
    /// - Parameter wireGuardSocketDirectory: where the WireGuard UAPI socket goes (`wg` looks in
    ///   the default only); empty: no socket.
    public init(device: Device, interfaceName: String, listenPort: UInt16, socketPath: String,
                wireGuardSocketDirectory: String = WireGuardUAPIServer.defaultDirectory, logger: Logger) throws {
        self.device = device
        udp = try UDPTransport(port: listenPort)
        tun = try TunDevice(name: interfaceName)
        try tun.setMTU(device.mtu)
        dataPlane = DataPlane(device: device, tun: tun, udp: udp, logger: logger)
        api = LocalAPI(socketPath: socketPath, logger: logger)
        wireGuardUAPI = WireGuardUAPIServer(directory: wireGuardSocketDirectory, interfaceName: tun.name, logger: logger)
        // Taken now, with the port and the device: a socket path another meshd answers on is
        // an error here, not a takeover later. Until `start`, meshctl hears "starting".
        try api.claim()
        // Until the mode adds what it knows (allowed IPs, endpoints), the device's own view.
        wireGuardUAPI.serve { [weak self] in self?.wireGuardState { .init(endpoint: $0.endpoint) } }
        if !wireGuardSocketDirectory.isEmpty { wireGuardUAPI.start() }
    }

    public func start(steering: OverlaySteering? = nil, status: @escaping @Sendable () -> NodeStatus) throws {
        dataPlane.start(steering: steering)
        try api.start(status: status)
    }

    public func stop() {
        wireGuardUAPI.stop()
        api.stop()
        // The process exits next: signal the data plane's threads, do not wait for them.
        dataPlane.stop(timeout: .zero)
    }

    /// The facts both modes show; mesh mode fills in the rest.
    public func status(peers: (Peer.Snapshot) -> NodeStatus.PeerStatus) -> NodeStatus {
        let snapshots = device.peers.map { $0.snapshot() }.sorted { $0.publicKey.base64 < $1.publicKey.base64 }
        return NodeStatus(interface: tun.name, publicKey: device.publicKey.base64, listenPort: Int(udp.port),
                          droppedDatagrams: dataPlane.counters.droppedDatagrams, drops: dataPlane.counters.dropsByReason,
                          peers: snapshots.map(peers))
    }
}
