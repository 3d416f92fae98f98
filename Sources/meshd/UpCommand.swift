import ArgumentParser
import Foundation
import Synchronization
import Logging
import MeshConfig
import MeshCrypto
import MeshDNS
import MeshEngine
import MeshHTTP
import MeshIO
import MeshNode
import MeshTLS
import MeshWire

/// `meshd up --join TOKEN`: mesh mode. Registers with the coordinator named in the token (or
/// reuses the identity saved in the state dir), configures the TUN device and follows the netmap.
struct Up: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Join a mesh network through its coordinator and follow its netmap."
    )

    @Option(name: .customLong("join-file"),
            help: "File holding the join token from `meshcoord authkey create` (\"-\": read it from standard input). Not needed when the state dir holds a registration; MESH_JOIN_TOKEN in the environment works too.")
    var joinFile: String?

    @Option(name: .long, help: "Join token on the command line (discouraged: prefer --join-file or MESH_JOIN_TOKEN; meshd wipes it from its argv once read).")
    var join: String?

    @Option(name: .long, help: "Name to register under (default: this machine's hostname).")
    var hostname: String?

    @Option(name: .long, help: "Config file (TOML: state_dir, port, interface, socket, join_file, hostname, ca_file, log_level, manage_resolv_conf, dns_address, mtu); flags win over it. SIGHUP re-reads it.")
    var config: String?

    @Option(name: .customLong("state-dir"), help: "Where the node key and registration are kept (default: \(StateDirectory.defaultPath)).")
    var stateDirFlag: String?

    @Option(name: .customLong("interface"), help: "TUN device name (default: mesh0).")
    var interfaceFlag: String?

    @Option(name: .customLong("socket"), help: "Unix socket for meshctl (default: \(LocalAPI.defaultSocketPath)).")
    var socketFlag: String?

    @Option(name: .customLong("port"), help: "UDP port (default: \(Up.defaultPort), fixed so a firewall rule can allow it; 0: any free port).")
    var portFlag: UInt16?

    @Option(name: .customLong("mtu"), help: "Tunnel MTU, \(DaemonConfigFile.mtuRange.lowerBound)-\(DaemonConfigFile.mtuRange.upperBound) (default 1280: fits any underlay path; larger carries more per packet where the path allows).")
    var mtuFlag: Int?

    @Option(name: .customLong("ca-file"),
            help: "PEM file of a private CA to trust, besides the system's roots, for an https:// coordinator (or the proxy in front of it) and TLS relays.")
    var caFile: String?

    @Option(name: .customLong("wireguard-socket-dir"),
            help: "Directory of the WireGuard UAPI socket <interface>.sock that `wg show` reads (read-only; \"\": none).")
    var wireGuardSocketDirectory: String = WireGuardUAPIServer.defaultDirectory

    @Option(name: .customLong("dns-address"),
            help: "Where MagicDNS answers <name>.<domain> for this host (default: 100.100.100.100, plus <overlay prefix>:53::53 with IPv6; \"off\": no MagicDNS). Config key: dns_address.")
    var dnsAddressFlag: String?

    @Flag(name: .customLong("manage-resolv-conf"),
          help: "Where systemd-resolved does not run, point /etc/resolv.conf at MagicDNS while the tunnel is up (a backup in the state dir; the original comes back at down, at exit, and at the next start after a crash). Config key: manage_resolv_conf.")
    var manageResolvConf = false

    @Flag(name: .long, help: "Log handshakes and other details (log level debug).")
    var verbose = false

    @Option(name: .customLong("log-level"), help: "trace, debug, info (default), notice, warning, error or critical.")
    var logLevelFlag: String?

    /// The port firewall rules and the packages' documentation name.
    static let defaultPort: UInt16 = 41641

    func run() throws {
        var file = DaemonConfigFile()
        if let config {
            do { file = try DaemonConfigFile.load(path: config) } catch { throw CommandFailure("\(error)") }
        }
        let settings = try Self.settings(flags: self, file: file)
        let dnsAddress = try Self.magicDNSAddress(flag: dnsAddressFlag, file: file.dnsAddress)
        let stateDir = settings.stateDirectory, interface = settings.interface, socket = settings.socket, port = settings.port
        let joinFile = self.joinFile ?? file.joinFile, hostname = self.hostname ?? file.hostname, caFile = self.caFile ?? file.caFile
        let logger = DaemonStartup.begin(level: settings.logLevel)
        let notifier = SystemdNotifier()

        var token: JoinToken?
        if let text = try JoinSecretSource.read(joinFile: joinFile, joinArgument: join, warn: { logger.warning("\($0)") }) {
            do { token = try JoinToken(parsing: text) } catch { throw CommandFailure("\(error)") }
        }
        let dir = StateDirectory(path: stateDir)
        // Everything local is checked before the node registers (a single-use key spent on a
        // node that cannot come up is lost, and leaves a ghost node): first the state
        // directory's lock, then, below, the UDP port, the TUN device and the socket path.
        let lock: StateDirectoryLock
        do { lock = try StateDirectoryLock(directory: dir) } catch { throw CommandFailure("\(error)") }
        // A resolv.conf a run that did not stop (SIGKILL, a crash) left pointing at MagicDNS is
        // put back first, opted in or not: until MagicDNS answers again it would send every
        // lookup, the coordinator's name among them, nowhere.
        let resolvConf = ResolvConfManager(stateDirectory: dir, dnsAddress: "\(dnsAddress ?? MagicDNSAddress.defaultIPv4)",
                                           logger: logger)
        resolvConf.recoverAfterCrash()
        let nodeKey: [UInt8]
        let discoPrivate: PrivateKey
        var saved: SavedRegistration?
        do {
            nodeKey = try dir.loadOrCreateNodeKey()
            if let warning = dir.nodeKeyPermissionWarning() { logger.warning("\(warning)") }
            // Kept across restarts like the node key (only its public half leaves the node):
            // peers that cannot hear from the coordinator still know it.
            discoPrivate = try dir.loadOrCreateDiscoKey()
            saved = try dir.loadRegistration()
        } catch { throw CommandFailure("\(error)") }
        if let t = token, let s = saved, !s.matches(t) {
            logger.notice("the join token names another coordinator (\(t.coordinatorURL)) than the saved registration (\(s.coordinatorURL)): registering anew")
            saved = nil
        }
        let coordinatorURL: String, coordinatorKey: [UInt8]
        if let t = token {
            coordinatorURL = t.coordinatorURL
            coordinatorKey = t.coordinatorKeyBytes
        } else if let s = saved, let k = s.coordinatorKeyBytes {
            coordinatorURL = s.coordinatorURL
            coordinatorKey = k
        } else {
            throw CommandFailure("no saved registration in \(stateDir): pass --join-file FILE holding a join token (make one with `meshcoord authkey create`)")
        }
        let runtime: NodeRuntime
        do {
            runtime = try JoinedNode.openRuntime(nodeKeyBytes: nodeKey, interfaceName: interface, socketPath: socket,
                                                 listenPort: port, mtu: settings.mtu, wireGuardSocketDirectory: wireGuardSocketDirectory,
                                                 logger: logger)
        } catch { throw CommandFailure("\(error)") }

        let tls: TLSClient
        do { tls = try TLSClient(caFile: caFile) } catch { throw CommandFailure("--ca-file: \(error)") }
        // HTTPS_PROXY / https_proxy (and NO_PROXY): TLS connections to the coordinator and relays
        // go through it with CONNECT, for networks where nothing else gets out.
        let proxy: HTTPSProxy?
        do { proxy = try HTTPSProxy.fromEnvironment() } catch { throw CommandFailure("HTTPS_PROXY: \(error)") }
        if let proxy { logger.info("TLS connections go through the proxy \(proxy) (HTTPS_PROXY)") }
        let client: ControlClient
        do {
            client = try ControlClient(coordinatorURL: coordinatorURL, coordinatorKeyBytes: coordinatorKey, nodeKeyBytes: nodeKey,
                                       tls: tls, proxy: proxy)
        } catch {
            throw CommandFailure("\(error)")
        }
        let discoKey = discoPrivate.publicKey.base64
        let name = hostname ?? ProcessInfo.processInfo.hostName
        var options = ControlLoop.Options(hostname: name, discoKey: discoKey, authSecret: token?.authSecret)
        // Endpoint changes (a new STUN mapping, a new LAN address) must reach peers quickly.
        options.endpointCheckInterval = .milliseconds(500)
        var restored: NetmapState?
        if let s = saved {
            do { restored = try dir.loadNetmap(for: s) } catch { logger.warning("\(error)") }
        }
        let control = ControlLoop(client: client, options: options, logger: logger, restoring: restored)
        let registeredURL = coordinatorURL
        let keyBase64 = Base64.encode(coordinatorKey)
        let inUse = saved
        control.onRegistered = { [logger] r in
            let record = SavedRegistration(coordinatorURL: registeredURL, coordinatorKey: keyBase64, response: r,
                                           registeredAt: SystemClock.unixSeconds())
            do { try dir.saveRegistration(record) } catch { logger.error("saving the registration failed: \(error)") }
            if let s = inUse, s.ipv4 != r.ipv4 || s.ipv6 != r.ipv6 {
                logger.warning("the coordinator now gives this node \(r.ipv4), \(r.ipv6) instead of \(s.ipv4), \(s.ipv6): restart meshd to use them")
            }
        }
        control.onRemoved = { _ in
            // The saved addresses and peers are no longer ours; the node key stays.
            dir.removeRegistration()
            dir.removeNetmap()
        }

        let registration: SavedRegistration
        if let s = saved {
            registration = s
            logger.info("reusing saved identity \(s.name) (\(s.ipv4), \(s.ipv6)) from \(stateDir); node key \(client.nodePublicKeyBase64)")
        } else {
            logger.info("registering with \(coordinatorURL) as \(name); node key \(client.nodePublicKeyBase64)")
            let result = Self.blockOn { try await control.registerUntilRefused() }
            switch result {
            case .none:
                logger.info("interrupted before registration completed")
                runtime.stop()
                return
            case .some(.failure(let error)):
                runtime.stop()
                throw CommandFailure("registration failed: \(error)")
            case .some(.success(let r)):
                logger.info("registered as \(r.name): \(r.ipv4), \(r.ipv6) (node id \(r.nodeID))")
                registration = SavedRegistration(coordinatorURL: coordinatorURL, coordinatorKey: keyBase64, response: r,
                                                 registeredAt: SystemClock.unixSeconds())
            }
        }

        control.onNetmapChanged = { [logger, registration] netmap in
            do { try dir.saveNetmap(netmap, for: registration, now: SystemClock.unixSeconds()) } catch {
                logger.warning("saving the netmap failed: \(error)")
            }
        }

        let node: JoinedNode
        do {
            node = try JoinedNode(runtime: runtime, nodeKeyBytes: nodeKey, discoKey: discoPrivate,
                                  coordinatorKeyBytes: coordinatorKey, registration: registration, control: control,
                                  tls: tls, proxy: proxy, dnsAddress: dnsAddress, logger: logger)
            // MagicDNS forwards the rest to the resolvers /etc/resolv.conf names now, before
            // anything points it at MagicDNS.
            node.magicDNS?.setUpstreams(MagicDNSUpstreams.fromEtcResolvConf(logger: logger))
            try node.start()
        } catch { throw CommandFailure("\(error)") }
        logger.info("meshd up: \(registration.name) \(registration.ipv4) \(registration.ipv6) on \(node.tun.name), UDP \(node.udp.port), public key \(node.device.publicKey)")
        let upLine = "\(registration.name) \(registration.ipv4) on \(node.tun.name), UDP \(node.udp.port)"
        let dnsFacts = ResolvedLink.probe()
        let dnsMode: HostDNSMode = dnsAddress == nil ? .none(reason: "MagicDNS is off (--dns-address off)")
            : HostDNSMode.choose(dnsFacts, manageResolvConf: settings.manageResolvConf)
        logger.info("host DNS: \(HostDNSMode.summary(dnsFacts, dnsMode))")
        let reverseZones = [registration.ipv4Prefix, registration.ipv6Prefix].flatMap(ReverseZones.covering(prefix:))
        let hostDNS = HostDNS(mode: dnsMode, interface: node.tun.name, resolvConf: resolvConf, reverseZones: reverseZones,
                              logger: logger)
        let domain: @Sendable () -> String = { control.status.netmap.domain ?? "mesh" }
        // The forwarder's upstreams are the host's own resolvers: from the backup while meshd
        // manages resolv.conf, never the managed file (which names MagicDNS).
        hostDNS.onResolvers = { [node] resolvers in
            node.magicDNS?.setUpstreams(DNSUpstream.list(from: resolvers.original, excluding: []))
        }
        hostDNS.apply(domain: domain())
        node.tunnelHooks.onSwitched = { up in
            if up { hostDNS.apply(domain: domain()) } else { hostDNS.remove() }
        }
        let whenNetmapChanged = control.onNetmapChanged
        control.onNetmapChanged = { netmap in
            whenNetmapChanged?(netmap)
            hostDNS.follow(domain: netmap.domain ?? "mesh")
        }
        notifier.ready(status: upLine)
        while SignalWaiter.next() == .reload {
            notifier.reloading()
            reload(running: settings, logger: logger)
            notifier.ready(status: upLine)
        }
        notifier.stopping()
        hostDNS.remove()
        node.stop()
        withExtendedLifetime(lock) {}
        logger.info("meshd stopped")
    }

    /// What one run uses, from the flags, else the config file, else the defaults.
    struct Settings: Equatable {
        var stateDirectory: String
        var interface: String
        var socket: String
        var port: UInt16
        var logLevel: Logger.Level
        var manageResolvConf = false
        var mtu = 1280
    }

    static func settings(flags: Up, file: DaemonConfigFile) throws -> Settings {
        var level: Logger.Level = file.logLevel.flatMap { Logger.Level(rawValue: $0.rawValue) } ?? .info
        if let name = flags.logLevelFlag {
            guard let l = Logger.Level(rawValue: name) else {
                throw CommandFailure("--log-level \(name.prefix(40)): one of trace, debug, info, notice, warning, error, critical")
            }
            level = l
        }
        if flags.verbose { level = min(level, .debug) }
        if let m = flags.mtuFlag, !DaemonConfigFile.mtuRange.contains(m) {
            throw CommandFailure("--mtu \(m): a whole number \(DaemonConfigFile.mtuRange.lowerBound)-\(DaemonConfigFile.mtuRange.upperBound)")
        }
        return Settings(stateDirectory: flags.stateDirFlag ?? file.stateDirectory ?? StateDirectory.defaultPath,
                        interface: flags.interfaceFlag ?? file.interface ?? "mesh0",
                        socket: flags.socketFlag ?? file.socket ?? LocalAPI.defaultSocketPath,
                        port: flags.portFlag ?? file.port ?? defaultPort,
                        logLevel: level,
                        manageResolvConf: flags.manageResolvConf || file.manageResolvConf == true,
                        mtu: flags.mtuFlag ?? file.mtu ?? 1280)
    }

    /// SIGHUP: the config file again. The log level changes at once; the rest is bound to what
    /// is open (the state directory's lock, the TUN device, the socket, the port), so a change
    /// there is logged as needing a restart, and a file that no longer reads keeps everything.
    func reload(running: Settings, logger: Logger) {
        guard let config else {
            logger.notice("SIGHUP: no --config file to reload; nothing changed")
            return
        }
        let next: Settings
        do { next = try Self.settings(flags: self, file: try DaemonConfigFile.load(path: config)) } catch {
            logger.error("SIGHUP: \(error); keeping the running settings")
            return
        }
        DaemonStartup.logLevel.set(next.logLevel)
        var needRestart: [String] = []
        if next.stateDirectory != running.stateDirectory { needRestart.append("state_dir") }
        if next.interface != running.interface { needRestart.append("interface") }
        if next.socket != running.socket { needRestart.append("socket") }
        if next.port != running.port { needRestart.append("port") }
        if next.manageResolvConf != running.manageResolvConf { needRestart.append("manage_resolv_conf") }
        if next.mtu != running.mtu { needRestart.append("mtu") }
        logger.notice("SIGHUP: reloaded \(config): log level \(next.logLevel)\(needRestart.isEmpty ? "" : "; \(needRestart.joined(separator: ", ")) changed and take effect at the next restart")")
        // Shown only when the new level allows it: the first line a newly raised level lets through.
        logger.debug("settings in effect: state_dir \(running.stateDirectory), interface \(running.interface), socket \(running.socket), port \(running.port)")
    }

    /// Runs `body` on the concurrency pool and waits; nil when SIGINT/SIGTERM came first.
    static func blockOn<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) -> Result<T, any Error>? {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        let task = Task {
            do { box.set(.success(try await body())) } catch { box.set(.failure(error)) }
            done.signal()
        }
        while done.wait(timeout: .now() + .milliseconds(200)) == .timedOut {
            if SignalWaiter.terminationPending() {
                task.cancel()
                return nil
            }
        }
        return box.get()
    }
}

final class ResultBox<T: Sendable>: Sendable {
    private let value = Mutex<Result<T, any Error>?>(nil)
    func set(_ v: Result<T, any Error>) { value.withLock { $0 = v } }
    func get() -> Result<T, any Error>? { value.withLock { $0 } }
}
