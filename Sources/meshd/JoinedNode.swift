import Foundation
import Logging
import MagicSock
import MeshConfig
import MeshCrypto
import MeshIO
import MeshNode
import MeshWire
import WireGuard

/// A node in mesh mode: the device, TUN and socket configured from its registration, its
/// peers following the coordinator's netmap (direct paths only for now: each peer's first
/// published endpoint; the steering hook stays nil until disco and the relay arrive).
final class JoinedNode {
    let device: Device
    let tun: TunDevice
    let udp: UDPTransport
    let dataPlane: DataPlane
    let api: LocalAPI
    let sync: DevicePeerSync
    let control: ControlLoop
    let registration: SavedRegistration
    let logger: Logger

    let paths: NodePaths

    init(nodeKeyBytes: [UInt8], discoKey: PrivateKey, coordinatorKeyBytes: [UInt8], registration: SavedRegistration,
         control: ControlLoop, interfaceName: String, socketPath: String, listenPort: UInt16, logger: Logger) throws {
        self.logger = logger
        self.registration = registration
        self.control = control
        let mtu = 1280
        device = Device(privateKey: try PrivateKey(rawBytes: nodeKeyBytes), mtu: mtu)
        sync = DevicePeerSync(device: device)
        udp = try UDPTransport(port: listenPort)
        tun = try TunDevice(name: interfaceName)
        try tun.setMTU(mtu)
        let v4 = try Self.parse(registration.ipv4, "overlay IPv4")
        try tun.addAddress(v4.networkBytes, prefixLength: 32)
        var v6ok = false
        do {
            let v6 = try Self.parse(registration.ipv6, "overlay IPv6")
            try tun.addAddress(v6.networkBytes, prefixLength: 128)
            v6ok = true
        } catch {
            logger.warning("overlay IPv6 \(registration.ipv6) not configured: \(error)")
        }
        try tun.setUp()
        let p4 = try IPPrefix(registration.ipv4Prefix).masked
        try tun.addRoute(p4.address.networkBytes, prefixLength: p4.length)
        if v6ok {
            do {
                let p6 = try IPPrefix(registration.ipv6Prefix).masked
                try tun.addRoute(p6.address.networkBytes, prefixLength: p6.length)
            } catch {
                logger.warning("route for overlay prefix \(registration.ipv6Prefix) not added: \(error)")
            }
        }
        dataPlane = DataPlane(device: device, tun: tun, udp: udp, logger: logger)
        api = LocalAPI(socketPath: socketPath, logger: logger)
        // The coordinator is the relay and the STUN server (its two default ports).
        let coordinatorKey = try PublicKey(rawBytes: coordinatorKeyBytes)
        let coordinatorHost = URLComponents(string: registration.coordinatorURL)?.host ?? ""
        let stun = [3478, 3479].compactMap { NodePaths.parseEndpoint("\(coordinatorHost):\($0)") }
        paths = NodePaths(nodeKey: try PrivateKey(rawBytes: nodeKeyBytes), discoKey: discoKey,
                          coordinatorKey: coordinatorKey,
                          relayURL: registration.coordinatorURL.trimmingSuffix("/") + "/relay",
                          stunServers: stun, dataPlane: dataPlane, udp: udp, logger: logger)
    }

    /// Points the disco layer at the netmap's peers; a peer with no usable endpoint is reached
    /// through the relay (its WireGuard endpoint is the relay marker).
    private func syncPaths(_ netmap: NetmapState) {
        var list: [NodePaths.NetmapPeer] = []
        for info in netmap.peers.values {
            guard let key = try? PublicKey(base64: info.nodeKey), let disco = try? PublicKey(base64: info.discoKey),
                  let peer = device.peer(for: key) else { continue }
            if peer.currentEndpoint == nil { peer.setEndpoint(RelayMarker.address(for: key)) }
            list.append(.init(nodeKey: key, discoKey: disco, endpoints: info.endpoints, wireGuardPeer: peer))
        }
        paths.setPeers(list)
    }

    static func parse(_ s: String, _ what: String) throws -> IPAddress {
        do { return try IPAddress(s) } catch { throw CommandFailure("bad \(what) from the coordinator: \(error)") }
    }

    func start() throws {
        let port = udp.port, ifname = tun.name
        let paths = self.paths
        control.endpoints = { paths.endpoints }
        // A removed node has no business with the relay (it would be refused every few seconds
        // for ever) nor with disco: stop all path work, keep the local API for `meshctl status`.
        let whenRemoved = control.onRemoved
        control.onRemoved = { [logger] error in
            whenRemoved?(error)
            paths.stop()
            logger.info("relay and path discovery stopped: this node was removed")
        }
        control.onPeers = { [sync, logger, weak self] diff, netmap in
            for line in sync.apply(diff, now: SystemClock.now()) { logger.info("\(line)") }
            self?.syncPaths(netmap)
        }
        let overlayPrefix = registration.ipv4Prefix
        paths.start(gatherLocalEndpoints: {
            LocalEndpoints.gather(port: port, excludingInterface: ifname, excludingPrefix: overlayPrefix)
        })
        dataPlane.start()
        try api.start { [self] in self.status() }
        control.start()
    }

    func stop() {
        paths.stop()
        control.stop()
        api.stop()
    }

    func status() -> NodeStatus {
        let now = SystemClock.now()
        let control = self.control.status
        var byKey: [String: NodeInfo] = [:]
        for p in control.netmap.peers.values { byKey[p.nodeKey] = p }
        let peers = device.peers.map { $0.snapshot() }.sorted { $0.publicKey.base64 < $1.publicKey.base64 }
        let me = control.netmap.selfNode
        return NodeStatus(
            interface: tun.name,
            publicKey: device.publicKey.base64,
            listenPort: Int(udp.port),
            droppedDatagrams: dataPlane.counters.droppedDatagrams,
            drops: dataPlane.counters.dropsByReason,
            peers: peers.map { p in
                let info = byKey[p.publicKey.base64]
                var status = NodeStatus.PeerStatus(p, now: now)
                status.name = info?.name
                status.ipv4 = info?.ipv4
                status.ipv6 = info?.ipv6
                status.online = info?.online
                status.path = paths.pathDescription(for: p.publicKey)
                return status
            },
            name: me?.name ?? registration.name,
            ipv4: me?.ipv4 ?? registration.ipv4,
            ipv6: me?.ipv6 ?? registration.ipv6,
            coordinator: registration.coordinatorURL,
            control: control.phase.rawValue,
            controlError: control.lastError,
            netmapVersion: control.netmap.version,
            relay: paths.relay.map { r in
                let st = r.stats
                return NodeStatus.RelayStatus(connected: r.isConnected, packetsSent: st.packetsSent,
                                              packetsReceived: st.packetsReceived, packetsDropped: st.packetsDropped)
            },
            discoDrops: paths.discoDrops)
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}
