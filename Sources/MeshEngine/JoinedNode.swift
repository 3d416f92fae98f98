import Foundation
import Logging
import MagicSock
import MeshConfig
import MeshCrypto
import MeshDNS
import MeshHTTP
import MeshIO
import MeshNode
import MeshWire
import WireGuard
import MeshStatus
import MeshTLS

/// A node in mesh mode: the device, TUN and socket configured from its registration, its
/// peers following the coordinator's netmap, their paths (direct or relayed) chosen by
/// `NodePaths`.
public final class JoinedNode: Sendable {
    public let runtime: NodeRuntime
    public let sync: DevicePeerSync
    public let control: ControlLoop
    public let registration: SavedRegistration
    let logger: Logger
    public var device: Device { runtime.device }
    public var tun: TunDevice { runtime.tun }
    public var udp: UDPTransport { runtime.udp }
    public var dataPlane: DataPlane { runtime.dataPlane }

    public let paths: NodePaths
    /// MagicDNS (nil: `--dns-address off`). Its upstreams come from whoever owns the host's
    /// resolver configuration: `magicDNS?.setUpstreams(_:)`.
    public let magicDNS: MagicDNSServer?
    /// Run after `meshctl down` / `up` changed the link (meshd's host DNS follows it).
    public let tunnelHooks = TunnelSwitchHooks()

    /// Everything local a mesh-mode node needs (UDP port, TUN device, local API socket), taken
    /// before it registers: a node that cannot have them must fail before it spends a
    /// single-use auth key and leaves a node on the coordinator that never comes up.
    public static func openRuntime(nodeKeyBytes: [UInt8], interfaceName: String, socketPath: String,
                                   listenPort: UInt16, mtu: Int = 1280, wireGuardSocketDirectory: String = WireGuardUAPIServer.defaultDirectory,
                                   logger: Logger) throws -> NodeRuntime {
        let device = Device(privateKey: try PrivateKey(rawBytes: nodeKeyBytes), mtu: mtu)
        // MagicSock is the one authority on where a peer is: the device neither roams nor
        // needs an endpoint for a peer.
        device.pathsChosenByTransport = true
        return try NodeRuntime(device: device, interfaceName: interfaceName, listenPort: listenPort,
                               socketPath: socketPath, wireGuardSocketDirectory: wireGuardSocketDirectory, logger: logger)
    }

    /// Configures `runtime` (from `openRuntime`) with the registration's addresses and routes.
    public init(runtime: NodeRuntime, nodeKeyBytes: [UInt8], discoKey: PrivateKey, coordinatorKeyBytes: [UInt8],
                registration: SavedRegistration, control: ControlLoop, tls: TLSClient? = nil, proxy: HTTPSProxy? = nil,
                dnsAddress: IPAddress? = nil, logger: Logger) throws {
        self.logger = logger
        self.registration = registration
        self.control = control
        self.runtime = runtime
        sync = DevicePeerSync(device: runtime.device)
        let tun = runtime.tun
        let v4 = try Self.parse(registration.ipv4, "overlay IPv4")
        try tun.addAddress(v4.networkBytes, prefixLength: 32)
        var v6ok = false
        var v6bytes: [UInt8]?
        do {
            let v6 = try Self.parse(registration.ipv6, "overlay IPv6")
            try tun.addAddress(v6.networkBytes, prefixLength: 128)
            v6ok = true
            v6bytes = v6.networkBytes
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
        // Peers' packets reach the TUN only when addressed to us (not to MagicDNS, not to the host's other addresses).
        runtime.dataPlane.localDestinations.set(ipv4: v4.networkBytes, ipv6: v6bytes)
        // Packets to overlay addresses no peer has are answered with ICMP host unreachable.
        runtime.dataPlane.setOverlayPrefixes([p4] + (v6ok ? [try? IPPrefix(registration.ipv6Prefix)].compactMap { $0 } : []))
        magicDNS = dnsAddress.flatMap { Self.magicDNSServer(at: $0, tun: tun, ipv6: v6ok, registration: registration,
                                                            netmap: control.status.netmap, logger: logger) }
        coordinatorKey = try PublicKey(rawBytes: coordinatorKeyBytes)
        paths = NodePaths(nodeKey: try PrivateKey(rawBytes: nodeKeyBytes), discoKey: discoKey,
                          dataPlane: runtime.dataPlane, udp: runtime.udp, tls: tls, proxy: proxy, logger: logger)
    }

    public let coordinatorKey: PublicKey

    /// The relays (and their STUN servers) to use, from what the coordinator lists.
    func relayList(_ listed: [RelayInfo]) -> [RelayInfo] {
        RelayDirectory.effective(listed: listed, coordinatorURL: registration.coordinatorURL, coordinatorKey: coordinatorKey)
    }

    /// Points the disco layer at the netmap's peers; which of their paths (direct or relay)
    /// carries each datagram is MagicSock's to decide. The data plane learns which peers the
    /// policy hides (for its answer to packets addressed to them).
    private func syncPaths(_ netmap: NetmapState) {
        var list: [MagicSock.PeerInfo] = []
        var homes: [PublicKey: String] = [:]
        for info in netmap.peers.values {
            guard let key = try? PublicKey(base64: info.nodeKey), let disco = try? PublicKey(base64: info.discoKey),
                  let peer = device.peer(for: key) else { continue }
            list.append(.init(nodeKey: key, discoKey: disco, endpoints: info.endpoints.compactMap(NodePaths.parseEndpoint),
                              wireGuardPeer: peer))
            if let home = info.homeRelay { homes[key] = home }
        }
        paths.setPeers(list)
        paths.setPeerHomes(homes)
        // Packets to peers the policy hides are answered as administratively prohibited.
        dataPlane.setHiddenPeerAddresses(netmap.hiddenPeers.values.flatMap { [try? IPAddress($0.ipv4), try? IPAddress($0.ipv6)].compactMap { $0 } })
        if !netmap.relays.isEmpty { paths.setRelays(relayList(netmap.relays)) }
    }

    static func parse(_ s: String, _ what: String) throws -> IPAddress {
        do { return try IPAddress(s) } catch { throw NodeSetupError("bad \(what) from the coordinator: \(error)") }
    }

    public func start() throws {
        let port = udp.port, ifname = tun.name
        let paths = self.paths
        control.endpoints = { paths.endpoints }
        control.homeRelay = { paths.relays.home }
        let whenRegistered = control.onRegistered
        control.onRegistered = { [weak self] response in
            whenRegistered?(response)
            if let self { self.paths.setRelays(self.relayList(response.relays)) }
        }
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
        let overlayPrefixes = [registration.ipv4Prefix, registration.ipv6Prefix]
        // Until the coordinator's list arrives (registration or the first netmap), its own relay.
        paths.setRelays(relayList(control.status.netmap.relays))
        paths.start(gatherLocalEndpoints: {
            LocalEndpoints.gather(port: port, excludingInterface: ifname, excludingPrefixes: overlayPrefixes)
        })
        // Peers from the netmap the last run saved, until the coordinator's first answer (a full
        // map) replaces them: direct paths come back at once, relayed ones through whichever
        // listed relay is up, even while the coordinator is down.
        let restored = control.status.netmap
        if !restored.peers.isEmpty, let onPeers = control.onPeers {
            onPeers(PeerDiff(added: restored.peers.values.sorted { $0.id < $1.id }), restored)
            logger.info("restored \(restored.peers.count) peers from the saved netmap (version \(restored.version))")
        }
        // The access policy the netmap carries, from the saved netmap before the data plane
        // starts (so a restart never opens a window of allow-all), then each change.
        let packetFilter = NetmapPacketFilter(filter: dataPlane.filter, logger: logger)
        packetFilter.follow(restored.packetFilter)
        control.onPacketFilter = { packetFilter.follow($0) }
        runtime.api.serve(localAPIServices())
        serveWireGuardUAPI()
        startMagicDNS()
        try runtime.start(steering: paths.magic) { [self] in self.status() }
        control.start()
    }

    public func stop() {
        magicDNS?.stop()
        paths.stop()
        control.stop()
        runtime.stop()
    }

    public func status() -> NodeStatus {
        let now = SystemClock.now()
        let control = self.control.status
        var byKey: [String: NodeInfo] = [:]
        for p in control.netmap.peers.values { byKey[p.nodeKey] = p }
        let me = control.netmap.selfNode
        let relays = paths.relays.statuses
        let relayStatus = relays.map { r in
            NodeStatus.RelayStatus(id: r.id, url: r.url, home: r.home, connected: r.connected,
                                   packetsSent: r.stats.packetsSent, packetsReceived: r.stats.packetsReceived,
                                   packetsDropped: r.stats.packetsDropped, transport: r.transport.rawValue,
                                   latencyMs: r.latencyMillis,
                                   pingMs: r.stats.lastRTT.map(Self.milliseconds))
        }
        var pathOf: [PublicKey: MagicSock.PathStatus] = [:]
        for p in paths.magic.pathStatus() { pathOf[p.nodeKey] = p }
        let netcheck = paths.netcheck
        let wallClock = Int64(Date().timeIntervalSince1970)
        var status = runtime.status { p in
            var status = NodeStatus.PeerStatus(p, now: now)
            status.addMesh(info: byKey[p.publicKey.base64], path: pathOf[p.publicKey], relays: relayStatus,
                           netcheck: netcheck, wallClock: wallClock)
            return status
        }
        status.name = me?.name ?? registration.name
        status.ipv4 = me?.ipv4 ?? registration.ipv4
        status.ipv6 = me?.ipv6 ?? registration.ipv6
        status.coordinator = registration.coordinatorURL
        status.control = control.phase.rawValue
        status.controlError = control.lastError
        status.netmapVersion = control.netmap.version
        status.relay = relayStatus.first(where: \.home) ?? relayStatus.first
        status.relays = relayStatus
        status.discoDrops = paths.discoDrops
        status.dns = magicDNS?.status
        status.user = me?.user
        status.tags = me.map { Array($0.tags.prefix(NodeStatus.maxTagsPerNode)) }
        status.absentPeers = control.netmap.sortedHiddenPeers.map(NodeStatus.AbsentPeer.init(hidden:))
        return status
    }

    /// A round trip for the status, in milliseconds to 0.01.
    private static func milliseconds(_ d: Duration) -> Double {
        let ms = Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
        return (ms * 100).rounded() / 100
    }
}
