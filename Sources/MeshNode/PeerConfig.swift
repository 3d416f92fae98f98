import Foundation
import MeshConfig
import MeshCrypto
import MeshWire
import WireGuard

/// What the WireGuard device needs to know about one netmap peer: its key, the overlay
/// addresses it may send from (its /32 and /128) and where to send to, in the netmap's own
/// text form so a plan compares with what the coordinator sent.
public struct PeerConfig: Equatable, Hashable, Sendable {
    public var publicKey: String
    /// e.g. ["100.64.0.2/32", "fd7a:115c:a1e0::2/128"]
    public var allowedIPs: [String]
    /// The WireGuard endpoint the peer is installed with ("ip:port" or "[v6]:port"): its first
    /// published endpoint. Where datagrams actually go is MagicSock's decision (direct to a
    /// candidate disco confirmed, or the relay); this value only names the peer's endpoint
    /// until the path layer knows the peer.
    public var endpoint: String?

    public init(publicKey: String, allowedIPs: [String], endpoint: String?) {
        self.publicKey = publicKey
        self.allowedIPs = allowedIPs
        self.endpoint = endpoint
    }

    /// Nil when the entry is unusable (bad key or addresses): such a peer is skipped.
    public init?(_ node: NodeInfo) {
        guard (try? PublicKey(base64: node.nodeKey)) != nil else { return nil }
        var allowed: [String] = []
        if (try? IPAddress(node.ipv4)).map({ $0.isV4 }) == true { allowed.append("\(node.ipv4)/32") }
        if (try? IPAddress(node.ipv6)).map({ !$0.isV4 }) == true { allowed.append("\(node.ipv6)/128") }
        guard !allowed.isEmpty else { return nil }
        self.publicKey = node.nodeKey
        self.allowedIPs = allowed
        self.endpoint = node.endpoints.first { (try? Endpoint($0)) != nil }
    }
}

/// The device operations a netmap change calls for.
public enum PeerAction: Equatable, Sendable {
    case add(PeerConfig)
    /// Same key, other routes or endpoint.
    case update(PeerConfig)
    case remove(publicKey: String)
}

/// Keeps the WireGuard `Device`'s peers in step with the netmap. The planning is pure
/// (`plan`); `apply` carries it out on the device. Sendable by hand: `configured` is guarded by
/// `lock`, and the device is Sendable.
public final class DevicePeerSync: @unchecked Sendable {
    public let device: Device
    private let lock = Lock()
    /// Netmap id → what the device holds for it.
    private var configured: [Int64: PeerConfig] = [:]

    public init(device: Device) { self.device = device }

    /// Pure: the actions turning `current` into what `diff` describes; also returns the new table.
    public static func plan(current: [Int64: PeerConfig], diff: PeerDiff) -> (actions: [PeerAction], next: [Int64: PeerConfig]) {
        var next = current
        var removes: [PeerAction] = []
        var adds: [PeerAction] = []
        for node in diff.removed {
            if let old = next.removeValue(forKey: node.id) { removes.append(.remove(publicKey: old.publicKey)) }
        }
        for node in diff.added + diff.changed.map(\.new) {
            let old = next[node.id]
            guard let config = PeerConfig(node) else {
                if let old {
                    next[node.id] = nil
                    removes.append(.remove(publicKey: old.publicKey))
                }
                continue
            }
            if let old {
                if old == config { continue }
                if old.publicKey != config.publicKey {
                    removes.append(.remove(publicKey: old.publicKey))
                    adds.append(.add(config))
                } else {
                    adds.append(.update(config))
                }
            } else {
                adds.append(.add(config))
            }
            next[node.id] = config
        }
        // Removals first: a key that moved from one id to another must not be removed after its re-add.
        return (removes + adds, next)
    }

    /// Applies a diff to the device; returns one line per change, for the log.
    @discardableResult
    public func apply(_ diff: PeerDiff, now: MonotonicTime) -> [String] {
        lock.lock()
        defer { lock.unlock() }
        let (actions, next) = Self.plan(current: configured, diff: diff)
        configured = next
        var log: [String] = []
        for action in actions {
            switch action {
            case .remove(let key):
                if let k = try? PublicKey(base64: key) { device.removePeer(k) }
                log.append("peer \(key) removed")
            case .add(let c), .update(let c):
                do {
                    try install(c, now: now)
                    if case .add = action { log.append("peer \(c.publicKey) added: \(c.allowedIPs.joined(separator: ", ")) via \(c.endpoint ?? "no endpoint")") }
                    else { log.append("peer \(c.publicKey) updated: \(c.allowedIPs.joined(separator: ", ")) via \(c.endpoint ?? "no endpoint")") }
                } catch {
                    log.append("peer \(c.publicKey) not configured: \(error)")
                }
            }
        }
        return log
    }

    /// The configs currently installed, by netmap id.
    public var installed: [Int64: PeerConfig] {
        lock.lock()
        defer { lock.unlock() }
        return configured
    }

    private func install(_ c: PeerConfig, now: MonotonicTime) throws {
        let key = try PublicKey(base64: c.publicKey)
        var allowed: [(address: [UInt8], prefixLength: Int)] = []
        for text in c.allowedIPs {
            let p = try IPPrefix(text)
            allowed.append((p.masked.address.networkBytes, p.length))
        }
        let endpoint = c.endpoint.flatMap { try? Endpoint($0) }.map { UDPAddress($0) }
        try device.addPeer(publicKey: key, endpoint: endpoint, allowedIPs: allowed, now: now)
    }
}
