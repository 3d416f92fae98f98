import MeshBase
import MeshDNS
import MeshNode
import MeshWire

/// MagicDNS's names from the netmap: this node first (so a peer cannot take its name), then the
/// peers, the coordinator's domain ("mesh" until it names one), its extra records (a record
/// whose name, type or address does not read is skipped), and the overlay prefixes as the
/// registration has them. Built anew on every netmap change: a rename is served at once.
enum MagicDNSNetmapTable {
    static func table(_ netmap: NetmapState, registration: SavedRegistration) -> MagicDNSTable {
        func address(_ s: String) -> IPAddress? { try? IPAddress(s) }
        let me = netmap.selfNode
        var entries = [MagicDNSTable.Entry(name: me?.name ?? registration.name,
                                           ipv4: address(me?.ipv4 ?? registration.ipv4),
                                           ipv6: address(me?.ipv6 ?? registration.ipv6))]
        for p in netmap.sortedPeers {
            entries.append(.init(name: p.name, ipv4: address(p.ipv4), ipv6: address(p.ipv6)))
        }
        let prefixes = [registration.ipv4Prefix, registration.ipv6Prefix].compactMap { try? IPPrefix($0) }
        return MagicDNSTable(domain: netmap.domain ?? "mesh", entries: entries, overlayPrefixes: prefixes,
                             extraRecords: extraRecords(netmap.extraRecords?.records ?? []))
    }

    static func extraRecords(_ records: [DNSExtraRecord]) -> [MagicDNSTable.ExtraRecord] {
        records.prefix(DNSExtraRecords.maxCount).compactMap { r in
            guard let name = DNSName(r.name), let a = try? IPAddress(r.value) else { return nil }
            switch r.type.uppercased() {
            case "A" where a.isV4, "AAAA" where !a.isV4: return MagicDNSTable.ExtraRecord(name: name, address: a)
            default: return nil
            }
        }
    }
}
