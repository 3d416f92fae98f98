import Foundation

// The control protocol of DESIGN.md section 7: the JSON bodies a node and the coordinator
// exchange inside sealed envelopes (see SealedEnvelope.swift). Keys are base64 (standard,
// padded, as `wg` prints them); addresses are strings; times are Unix seconds.

/// `POST /v1/register`: a node asks to join (or rejoin) the network.
public struct RegisterRequest: Codable, Sendable, Equatable {
    /// The auth secret from the join token. May be omitted when the node key is already
    /// registered and not expired (re-registration after a lost answer returns the same node).
    public var authKey: String?
    /// The machine's hostname; the coordinator derives a unique DNS-safe name from it.
    public var hostname: String
    public var os: String
    /// The node's current disco public key (base64).
    public var discoKey: String

    public init(authKey: String?, hostname: String, os: String, discoKey: String) {
        self.authKey = authKey
        self.hostname = hostname
        self.os = os
        self.discoKey = discoKey
    }
}

public struct RegisterResponse: Codable, Sendable, Equatable {
    public var nodeID: Int64
    public var name: String
    public var ipv4: String
    public var ipv6: String
    /// The overlay prefixes the addresses come from (e.g. "100.64.0.0/10", "fd7a:...::/48").
    public var ipv4Prefix: String
    public var ipv6Prefix: String
    public var tags: [String]
    public var relays: [RelayInfo]

    public init(nodeID: Int64, name: String, ipv4: String, ipv6: String, ipv4Prefix: String,
                ipv6Prefix: String, tags: [String], relays: [RelayInfo]) {
        self.nodeID = nodeID
        self.name = name
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.ipv4Prefix = ipv4Prefix
        self.ipv6Prefix = ipv6Prefix
        self.tags = tags
        self.relays = relays
    }
}

/// `POST /v1/map`: the long-poll. `sinceVersion` nil or 0 asks for a full map; otherwise the
/// coordinator answers as soon as something newer than that version exists (a delta), or after
/// its keepalive interval with `kind == .keepAlive`.
public struct MapRequest: Codable, Sendable, Equatable {
    public var sinceVersion: UInt64?
    /// The node's current candidate endpoints ("ip:port", "[v6]:port"); nil leaves them as they are.
    public var endpoints: [String]?
    /// The node's home relay id; nil leaves it as it is.
    public var homeRelay: String?
    /// The node's disco key when it changed since registration (a restart makes a fresh one).
    public var discoKey: String?
    /// false: answer at once even when nothing changed (default true: wait).
    public var wait: Bool?

    public init(sinceVersion: UInt64? = nil, endpoints: [String]? = nil, homeRelay: String? = nil,
                discoKey: String? = nil, wait: Bool? = nil) {
        self.sinceVersion = sinceVersion
        self.endpoints = endpoints
        self.homeRelay = homeRelay
        self.discoKey = discoKey
        self.wait = wait
    }
}

public struct MapResponse: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// `self` and the complete `peers` list: replace everything known.
        case full
        /// `peersChanged` replace (or add) peers by id, `peersRemoved` drop peers by id;
        /// `self` is present when the node's own entry changed.
        case delta
        /// Nothing changed; poll again with the same (or the returned) version.
        case keepAlive
    }

    public var kind: Kind
    /// The netmap version this answer brings the node to; send it as the next `sinceVersion`.
    public var version: UInt64
    /// The node's own entry (JSON key "self").
    public var selfNode: NodeInfo?
    public var peers: [NodeInfo]?
    public var peersChanged: [NodeInfo]?
    public var peersRemoved: [Int64]?
    /// Peers this node saw before that still exist but that the access policy now hides from
    /// it (issue 11): ids only, and only of peers the node was shown, so nothing is told that
    /// the node did not already know besides "still there, hidden by policy". In a delta they
    /// are also in `peersRemoved` (a node that predates this field simply drops them); in a
    /// full map they are the peers the coordinator still counts as hidden from this node.
    /// A node keeps the entry it last had for each (shown as "absent") and takes at most
    /// `maxHiddenPeers` of them. nil: none, or a coordinator that predates this field.
    public var peersHidden: [Int64]?
    public var relays: [RelayInfo]?
    /// DNS suffix for peer names (e.g. "mesh": `laptop.mesh`).
    public var domain: String?
    /// This node's packet filter. In a full map, nil means no policy (allow all, as from a
    /// coordinator that predates policies); in a delta, nil means unchanged.
    public var packetFilter: PacketFilterMessage?
    /// The coordinator's `extra_records` for MagicDNS. In a full map, nil means none; in a
    /// delta, nil means unchanged.
    public var extraRecords: DNSExtraRecords?

    public init(kind: Kind, version: UInt64, self selfNode: NodeInfo? = nil, peers: [NodeInfo]? = nil,
                peersChanged: [NodeInfo]? = nil, peersRemoved: [Int64]? = nil, peersHidden: [Int64]? = nil,
                relays: [RelayInfo]? = nil, domain: String? = nil, packetFilter: PacketFilterMessage? = nil,
                extraRecords: DNSExtraRecords? = nil) {
        self.kind = kind
        self.version = version
        self.selfNode = selfNode
        self.peers = peers
        self.peersChanged = peersChanged
        self.peersRemoved = peersRemoved
        self.peersHidden = peersHidden
        self.relays = relays
        self.domain = domain
        self.packetFilter = packetFilter
        self.extraRecords = extraRecords
    }

    public static func keepAlive(version: UInt64) -> MapResponse { MapResponse(kind: .keepAlive, version: version) }

    /// Hidden peers a node keeps at most (and a coordinator lists at most, per node): enough
    /// for the peers an admin expects to see marked, bounded against a broken or hostile map.
    public static let maxHiddenPeers = 128

    enum CodingKeys: String, CodingKey {
        case kind, version, selfNode = "self", peers, peersChanged, peersRemoved, peersHidden, relays, domain, packetFilter, extraRecords
    }
}

/// `POST /v1/endpoints`: a quick endpoint (and home relay / disco key) update without waiting.
public struct EndpointsRequest: Codable, Sendable, Equatable {
    public var endpoints: [String]
    public var homeRelay: String?
    public var discoKey: String?

    public init(endpoints: [String], homeRelay: String? = nil, discoKey: String? = nil) {
        self.endpoints = endpoints
        self.homeRelay = homeRelay
        self.discoKey = discoKey
    }
}

public struct EndpointsResponse: Codable, Sendable, Equatable {
    public var version: UInt64
    public init(version: UInt64) { self.version = version }
}

/// `POST /v1/logout`: the node leaves; its peers see it removed. It keeps its addresses and can
/// come back with a valid auth key.
public struct LogoutRequest: Codable, Sendable, Equatable {
    public var reason: String?
    public init(reason: String? = nil) { self.reason = reason }
}

public struct LogoutResponse: Codable, Sendable, Equatable {
    public var loggedOut: Bool
    public init(loggedOut: Bool = true) { self.loggedOut = loggedOut }
}

/// One node of the netmap, as its peers see it.
public struct NodeInfo: Codable, Sendable, Equatable, Hashable {
    public var id: Int64
    public var name: String
    public var nodeKey: String
    public var discoKey: String
    public var ipv4: String
    public var ipv6: String
    public var endpoints: [String]
    public var homeRelay: String?
    public var online: Bool
    /// Unix seconds; nil when never seen.
    public var lastSeen: Int64?
    public var tags: [String]
    public var os: String?
    /// The user the node belongs to (nil for tagged nodes and from older coordinators).
    public var user: String?

    public init(id: Int64, name: String, nodeKey: String, discoKey: String, ipv4: String, ipv6: String,
                endpoints: [String], homeRelay: String?, online: Bool, lastSeen: Int64?,
                tags: [String] = [], os: String? = nil, user: String? = nil) {
        self.id = id
        self.name = name
        self.nodeKey = nodeKey
        self.discoKey = discoKey
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.endpoints = endpoints
        self.homeRelay = homeRelay
        self.online = online
        self.lastSeen = lastSeen
        self.tags = tags
        self.os = os
        self.user = user
    }
}

/// A relay (DERP-style, DESIGN.md section 6) and the STUN ports next to it.
public struct RelayInfo: Codable, Sendable, Equatable, Hashable {
    public var id: String
    public var name: String?
    /// e.g. "http://coord.example.com:8080/relay"
    public var url: String
    /// Host for STUN queries; nil means the host of `url`.
    public var stunHost: String?
    public var stunPorts: [Int]
    /// The relay's public key (base64): nodes pin it in the relay handshake, so a host that
    /// answers at `url` without the private half is refused. nil: not pinned (any key).
    public var key: String?

    public init(id: String, name: String? = nil, url: String, stunHost: String? = nil, stunPorts: [Int] = [],
                key: String? = nil) {
        self.id = id
        self.name = name
        self.url = url
        self.stunHost = stunHost
        self.stunPorts = stunPorts
        self.key = key
    }
}

/// Every 4xx/5xx answer of the coordinator (node API and admin API): `{ "error": "...", "code": "..." }`.
/// Errors are never sealed, so `curl` shows them as they are.
public struct ErrorBody: Codable, Sendable, Equatable, Error, CustomStringConvertible {
    public var error: String
    public var code: String

    public init(error: String, code: String) {
        self.error = error
        self.code = code
    }

    public init(_ code: ErrorCode, _ message: String) {
        self.error = message
        self.code = code.rawValue
    }

    public var description: String { "\(error) (\(code))" }
}

/// The machine-readable `code` of an `ErrorBody`.
public enum ErrorCode: String, Codable, Sendable, CaseIterable {
    case malformedJSON = "malformed_json"
    case badRequest = "bad_request"
    case badEnvelope = "bad_envelope"
    case badSeal = "bad_seal"
    case staleRequest = "stale_request"
    case replayedRequest = "replayed_request"
    case bodyTooLarge = "body_too_large"
    case notFound = "not_found"
    case methodNotAllowed = "method_not_allowed"
    case authKeyMissing = "auth_key_missing"
    case authKeyUnknown = "auth_key_unknown"
    case authKeyExpired = "auth_key_expired"
    case authKeyRevoked = "auth_key_revoked"
    case authKeyUsed = "auth_key_used"
    case nodeUnknown = "node_unknown"
    case nodeExpired = "node_expired"
    case nameTaken = "name_taken"
    case discoKeyInUse = "disco_key_in_use"
    case invalidName = "invalid_name"
    case addressPoolExhausted = "address_pool_exhausted"
    case unavailable = "unavailable"
    case `internal` = "internal"
}

/// Checks for the endpoint strings nodes publish: "a.b.c.d:port" or "[v6]:port".
public enum EndpointSyntax {
    public static let maxEndpoints = 32

    public static func isValid(_ s: String) -> Bool {
        guard s.utf8.count <= 64 else { return false }
        let host: Substring, port: Substring
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]") else { return false }
            host = s[s.index(after: s.startIndex)..<close]
            let rest = s[s.index(after: close)...]
            guard rest.hasPrefix(":") else { return false }
            port = rest.dropFirst()
            guard isIPv6(host) else { return false }
        } else {
            guard let colon = s.lastIndex(of: ":") else { return false }
            host = s[..<colon]
            port = s[s.index(after: colon)...]
            guard isIPv4(host) else { return false }
        }
        guard let p = Int(port), (1...65535).contains(p), port.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        return true
    }

    public static func isIPv4(_ s: Substring) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }), let v = Int(p), v <= 255 else { return false }
        }
        return true
    }

    public static func isIPv6(_ s: Substring) -> Bool {
        guard !s.isEmpty, s.count <= 45 else { return false }
        var text = s
        var groupsNeeded = 8
        if let lastColon = s.lastIndex(of: ":"), s[s.index(after: lastColon)...].contains(".") {
            guard isIPv4(s[s.index(after: lastColon)...]) else { return false }
            text = s[...lastColon]
            if text.hasSuffix(":") && !text.hasSuffix("::") { text = text.dropLast() }
            groupsNeeded = 6
        }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return false }
        func groups(_ h: String) -> [Substring]? {
            if h.isEmpty { return [] }
            let g = h.split(separator: ":", omittingEmptySubsequences: false)
            for x in g where x.isEmpty || x.count > 4 || !x.allSatisfy({ $0.isHexDigit }) { return nil }
            return g
        }
        guard let first = groups(halves[0]) else { return false }
        if halves.count == 2 {
            guard let second = groups(halves[1]) else { return false }
            return first.count + second.count < groupsNeeded
        }
        return first.count == groupsNeeded
    }
}

/// `POST /v1/relay/nodes`: a relay on another host (`meshcoord relay`) asks which node keys it
/// may admit. Sealed with the relay's key, which must be the `key` of a configured `[[relay]]`,
/// so only relays the admin listed learn the node list.
public struct RelayNodesRequest: Codable, Sendable, Equatable {
    /// The `version` of the relay's last answer; nil (first request, or after a restart) asks
    /// for the list whatever it is.
    public var sinceVersion: UInt64?
    /// true: when nothing changed since `sinceVersion`, hold the answer until something does
    /// (up to the coordinator's keepalive), so a relay follows changes with one request per
    /// change instead of polling.
    public var wait: Bool

    public init(sinceVersion: UInt64? = nil, wait: Bool = true) {
        self.sinceVersion = sinceVersion
        self.wait = wait
    }
}

public struct RelayNodesResponse: Codable, Sendable, Equatable {
    /// Send this back as `sinceVersion`.
    public var version: UInt64
    /// The base64 node key of every active node (registered, neither expired nor removed);
    /// nil: the set is the same as at `sinceVersion` (keeping a list of every node out of
    /// answers that change nothing).
    public var nodeKeys: [String]?

    public init(version: UInt64, nodeKeys: [String]?) {
        self.version = version
        self.nodeKeys = nodeKeys
    }
}
