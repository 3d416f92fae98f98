import Logging
import MeshBase
import MeshDNS
import MeshIO
import MeshNode

/// MagicDNS's part of a joined node: its addresses on the TUN, the server, and the table
/// following the netmap.
extension JoinedNode {
    /// Puts the DNS addresses on `tun` (IPv4 `address`; IPv6 `<prefix>:53::53` when the overlay
    /// has IPv6) and makes the server; nil when not even the IPv4 address could be added.
    static func magicDNSServer(at address: IPAddress, tun: TunDevice, ipv6: Bool, registration: SavedRegistration,
                               netmap: NetmapState, logger: Logger) -> MagicDNSServer? {
        var addresses: [IPAddress] = []
        var candidates = [address]
        if ipv6, let prefix = try? IPPrefix(registration.ipv6Prefix), let v6 = MagicDNSAddress.ipv6(in: prefix) {
            candidates.append(v6)
        }
        for a in candidates {
            do {
                try tun.addAddress(a.networkBytes, prefixLength: a.isV4 ? 32 : 128)
                addresses.append(a)
            } catch {
                logger.warning("MagicDNS will not answer at \(a): \(error)")
            }
        }
        guard !addresses.isEmpty else { return nil }
        return MagicDNSServer(addresses: addresses, interfaceName: tun.name,
                              table: MagicDNSNetmapTable.table(netmap, registration: registration), upstreams: [], logger: logger)
    }

    /// Starts the server and rebuilds its table on every netmap change (a rename is served
    /// as soon as the netmap has it).
    func startMagicDNS() {
        guard let dns = magicDNS else { return }
        let served = dns.start()
        guard !served.isEmpty else { return }
        logger.info("MagicDNS answers at \(served.map { "\($0)" }.joined(separator: " and ")) (UDP and TCP 53)")
        let registration = self.registration
        let whenChanged = control.onNetmapChanged
        control.onNetmapChanged = { netmap in
            whenChanged?(netmap)
            dns.setTable(MagicDNSNetmapTable.table(netmap, registration: registration))
        }
        dns.setTable(MagicDNSNetmapTable.table(control.status.netmap, registration: registration))
    }
}
