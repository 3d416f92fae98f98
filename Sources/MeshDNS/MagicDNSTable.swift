import MeshBase

/// The names MagicDNS answers for, built from the netmap: `<name>.<domain>` for the node itself
/// and every peer, and the reverse (PTR) names of their overlay addresses. Node names are one
/// label (the coordinator's names are DNS labels); a name that is not a valid label, or that an
/// earlier entry already took (the node itself is given first), is left out rather than guessed at.
public struct MagicDNSTable: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var ipv4: IPAddress?
        public var ipv6: IPAddress?
        public init(name: String, ipv4: IPAddress?, ipv6: IPAddress?) {
            self.name = name
            self.ipv4 = ipv4
            self.ipv6 = ipv6
        }
    }

    /// The domain in lower case ("mesh").
    public let domain: DNSName
    /// The overlay prefixes: a reverse lookup inside them that matches no node is NXDOMAIN
    /// (ours to answer); outside them it goes to the host's resolvers.
    public let overlayPrefixes: [IPPrefix]
    private var byLabel: [[UInt8]: Entry] = [:]
    private var byAddress: [IPAddress: DNSName] = [:]
    /// The coordinator's `extra_records`, by lower-case name (any name, in the domain or not).
    private var extras: [[[UInt8]]: [IPAddress]] = [:]

    /// One of the coordinator's `extra_records`: `name` answers A (or AAAA) `address`.
    public struct ExtraRecord: Sendable, Equatable {
        public var name: DNSName
        public var address: IPAddress
        public init(name: DNSName, address: IPAddress) {
            self.name = name
            self.address = address
        }
    }

    /// At most this many extra records are kept (the coordinator's own bound).
    public static let maxExtraRecords = 1024
    /// Addresses per extra name at most (more would not fit a 512-byte UDP answer anyway).
    public static let maxAddressesPerExtraName = 16

    /// `extraRecords` for a node's name are left out: a node is always reached by its own name.
    public init(domain: String, entries: [Entry], overlayPrefixes: [IPPrefix], extraRecords: [ExtraRecord] = []) {
        self.domain = (DNSName(domain) ?? DNSName("mesh")!).lowercased
        self.overlayPrefixes = overlayPrefixes
        for e in entries {
            let label = Array(e.name.utf8).map(DNSName.lowerASCII)
            guard Self.isHostLabel(label), byLabel[label] == nil,
                  let fqdn = try? DNSName(labels: [label] + self.domain.labels) else { continue }
            byLabel[label] = e
            for a in [e.ipv4, e.ipv6].compactMap({ $0 }) where byAddress[a] == nil { byAddress[a] = fqdn }
        }
        for r in extraRecords.prefix(Self.maxExtraRecords) {
            let name = r.name.lowercased
            guard !name.labels.isEmpty, entry(for: name) == nil else { continue }
            var list = extras[name.labels] ?? []
            guard list.count < Self.maxAddressesPerExtraName, !list.contains(r.address) else { continue }
            list.append(r.address)
            extras[name.labels] = list
        }
    }

    /// The extra records' addresses for `name` (any case), nil when it has none.
    public func extraAddresses(for name: DNSName) -> [IPAddress]? { extras[name.lowercased.labels] }

    public var extraNameCount: Int { extras.count }

    /// A host name label: 1-63 letters, digits and hyphens, not starting or ending with a hyphen.
    static func isHostLabel(_ l: [UInt8]) -> Bool {
        guard !l.isEmpty, l.count <= DNSName.maxLabelLength, l.first != 0x2D, l.last != 0x2D else { return false }
        return l.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
    }

    public var count: Int { byLabel.count }

    /// The entry for a name one label under the domain (`b.mesh`, any case), if there is one.
    public func entry(for name: DNSName) -> Entry? {
        let lower = name.lowercased
        guard lower.labels.count == domain.labels.count + 1, lower.isSubdomain(of: domain) else { return nil }
        return byLabel[lower.labels[0]]
    }

    /// The name of the node that has `address`.
    public func name(for address: IPAddress) -> DNSName? { byAddress[address] }

    public func isOverlay(_ address: IPAddress) -> Bool { overlayPrefixes.contains { $0.contains(address) } }
}
