import Logging
import MeshBase
import MeshDNS
import Synchronization

/// Points the host's resolver at MagicDNS while the tunnel is up, in the way `mode` chose
/// (systemd-resolved per link, /etc/resolv.conf when the admin opted in, or not at all), and
/// takes it back at `meshctl down` and at exit. It also knows the host's own resolvers, which
/// MagicDNS forwards the other names to: from the backup when meshd manages resolv.conf, else
/// from the file as it is.
public final class HostDNS: Sendable {
    public let mode: HostDNSMode
    public let dnsAddress: String
    let resolvConf: ResolvConfManager
    let resolved: ResolvedLink
    let logger: Logger
    /// The domain applied (nil: nothing applied, the tunnel is down or meshd has not started).
    private let applied = Mutex<String?>(nil)
    private let resolversHook = LockedClosure<@Sendable (HostResolvers) -> Void>()

    /// Called with the host's resolvers each time `apply` runs (start, `meshctl up`): the seam
    /// MagicDNS's forwarder takes its upstream list from.
    public var onResolvers: (@Sendable (HostResolvers) -> Void)? {
        get { resolversHook.function }
        set { resolversHook.function = newValue }
    }

    let reverseZones: [String]

    /// `reverseZones`: the overlay prefixes' in-addr.arpa / ip6.arpa zones (systemd-resolved
    /// sends PTR questions under them to MagicDNS).
    public init(mode: HostDNSMode, interface: String, resolvConf: ResolvConfManager, reverseZones: [String] = [],
                logger: Logger) {
        self.mode = mode
        self.reverseZones = reverseZones
        dnsAddress = resolvConf.dnsAddress
        self.resolvConf = resolvConf
        resolved = ResolvedLink(interface: interface, logger: logger)
        self.logger = logger
    }

    /// The resolvers /etc/resolv.conf names now (without MagicDNS's address).
    public func currentResolvers() -> HostResolvers {
        let bytes = (try? ResolvConfManager.readBytes(resolvConf.path)) ?? nil
        let text = bytes.map { String(decoding: $0, as: UTF8.self) } ?? ""
        return HostResolvers(original: ResolvConf(parsing: text), excluding: dnsAddress)
    }

    /// The tunnel is up: make the host ask MagicDNS for `domain`. Returns the resolvers to
    /// forward everything else to.
    @discardableResult
    public func apply(domain: String) -> HostResolvers {
        let resolvers = applyLocked(domain: domain)
        onResolvers?(resolvers)
        return resolvers
    }

    private func applyLocked(domain: String) -> HostResolvers {
        applied.withLock { on in applying(domain: domain, &on) }
    }

    /// Called with `applied` held.
    private func applying(domain: String, _ on: inout String?) -> HostResolvers {
        switch mode {
        case .systemdResolved:
            let upstreams = currentResolvers()
            if on != domain { resolved.configure(dnsAddress: dnsAddress, domain: domain, reverseZones: reverseZones) }
            on = domain
            return upstreams
        case .resolvConf:
            if let upstreams = resolvConf.manage(domain: domain) {
                on = domain
                return upstreams
            }
            return currentResolvers()
        case .none:
            on = domain
            return currentResolvers()
        }
    }

    /// The netmap's domain changed: applied again with it, only while applied (a down tunnel
    /// stays as `remove` left it).
    public func follow(domain: String) {
        // Under the one lock, so a `remove` (meshctl down) cannot slip in between the check and the write.
        let resolvers = applied.withLock { on -> HostResolvers? in
            guard let current = on, current != domain else { return nil }
            return applying(domain: domain, &on)
        }
        if let resolvers { onResolvers?(resolvers) }
    }

    /// The tunnel goes down or meshd stops: the host's resolver as it was.
    public func remove() {
        applied.withLock { on in
            guard on != nil else { return }
            switch mode {
            case .systemdResolved: resolved.revert()
            case .resolvConf: resolvConf.release()
            case .none: break
            }
            on = nil
        }
    }
}
