import Foundation
import Logging
import MeshBase
import MeshDNS

/// Where meshd's MagicDNS forwards what is not its own, and where it listens.
enum MagicDNSUpstreams {
    static let resolvConfPath = "/etc/resolv.conf"

    /// The nameservers of /etc/resolv.conf as it is (read at most 64 KiB), without MagicDNS's
    /// own addresses (`MagicDNSServer.setUpstreams` drops those too).
    static func fromEtcResolvConf(logger: Logger) -> [DNSUpstream] {
        let text: String
        if let handle = FileHandle(forReadingAtPath: resolvConfPath) {
            defer { try? handle.close() }
            text = String(decoding: (try? handle.read(upToCount: 64 * 1024)) ?? Data(), as: UTF8.self)
        } else {
            text = ""
        }
        let upstreams = DNSUpstream.list(from: ResolvConf(parsing: text), excluding: [])
        if upstreams.isEmpty {
            logger.warning("MagicDNS: \(resolvConfPath) names no usable nameserver: names outside the mesh get SERVFAIL")
        } else {
            logger.info("MagicDNS forwards other names to \(upstreams.map(\.description).joined(separator: ", ")) (from \(resolvConfPath))")
        }
        return upstreams
    }
}

extension Up {
    /// `--dns-address`, else `dns_address`, else 100.100.100.100; nil for "off".
    static func magicDNSAddress(flag: String?, file: String?) throws -> IPAddress? {
        guard let text = flag ?? file else { return MagicDNSAddress.defaultIPv4 }
        switch MagicDNSAddress.parseSetting(text) {
        case .off: return nil
        case .ipv4(let a): return a
        case nil: throw CommandFailure("--dns-address \(text.prefix(40)): an IPv4 address (default 100.100.100.100) or \"off\"")
        }
    }
}
