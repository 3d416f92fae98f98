import Foundation
import Logging
import MeshCrypto
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
        let offloads = OffloadSettings(disabling: ProcessInfo.processInfo.environment[OffloadSettings.environmentVariable])
        if !offloads.unknown.isEmpty {
            logger.warning("\(OffloadSettings.environmentVariable): ignoring \(offloads.unknown.joined(separator: ", ")) (known: \(OffloadSettings.names.joined(separator: ", ")))")
        }
        udp = try UDPTransport(port: listenPort, settings: offloads)
        tun = try TunDevice(name: interfaceName, settings: offloads)
        try tun.setMTU(device.mtu)
        dataPlane = DataPlane(device: device, tun: tun, udp: udp, logger: logger, settings: offloads,
                              cryptoThreads: DataPlane.cryptoThreads(environment: ProcessInfo.processInfo.environment["MESH_CRYPTO_THREADS"]))
        logger.info("data path offloads: TUN \(tun.offloads.names.isEmpty ? "none" : tun.offloads.names.joined(separator: ","))\(dataPlane.coalescing ? " +gro" : ""), UDP GSO \(udp.gsoEnabled ? "on" : "off"), UDP GRO \(udp.groEnabled ? "on" : "off"), crypto on \(dataPlane.cryptoThreads) thread(s) per direction")
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
        var status = NodeStatus(interface: tun.name, publicKey: device.publicKey.base64, listenPort: Int(udp.port),
                                droppedDatagrams: dataPlane.counters.droppedDatagrams, drops: dataPlane.counters.dropsByReason,
                                peers: snapshots.map(peers))
        status.dataPath = dataPathStatus
        return status
    }

    public var dataPathStatus: DataPathStatus {
        let c = dataPlane.counters
        return DataPathStatus(tunOffloads: tun.offloads.names, tunCoalescing: dataPlane.coalescing,
                              udpGSO: udp.gsoEnabled, udpGRO: udp.groEnabled, gsoRefusals: udp.gsoRefusals,
                              superPacketsFromTunnel: c.superPacketsFromTunnel.load(ordering: .relaxed),
                              segmentsSplit: c.segmentsSplit.load(ordering: .relaxed),
                              superPacketsToTunnel: c.superPacketsToTunnel.load(ordering: .relaxed),
                              segmentsCoalesced: c.segmentsCoalesced.load(ordering: .relaxed),
                              gsoSends: c.gsoSends.load(ordering: .relaxed), groReceives: c.groReceives.load(ordering: .relaxed),
                              unusableTunnelReads: c.unusableTunnelReads.load(ordering: .relaxed),
                              transportCipher: TransportCipher.boringSSLAvailable ? "boringssl" : "libsodium",
                              cryptoThreads: dataPlane.cryptoThreads, parallelBatches: c.parallelBatches.load(ordering: .relaxed))
    }
}
