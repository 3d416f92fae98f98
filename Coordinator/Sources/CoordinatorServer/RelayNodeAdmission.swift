import MeshCrypto
import MeshWire

/// Which node keys a relay on another host (`meshcoord relay`) admits, kept from the
/// coordinator's answers to `POST /v1/relay/nodes`. Pure: the driver (`RelayNodesPoller`)
/// feeds it answers and carries out what `apply` returns.
///
/// It fails closed: until the first answer with a list nobody is admitted, because a relay
/// that admits everyone would carry any stranger's traffic. An answer it cannot use changes
/// nothing, so when the coordinator is unreachable (or misbehaves) the last good set stays:
/// nodes that were allowed keep their relay while the coordinator is down.
public struct RelayNodeAdmission: Sendable, Equatable {
    /// More keys than this in one answer is refused (the set is what the coordinator can grow).
    public static let defaultMaxKeys = 1_000_000

    public let maxKeys: Int
    /// Canonical base64 keys (as `PublicKey.base64` prints them).
    public private(set) var admitted: Set<String> = []
    /// The version of the last answer; nil until the first list.
    public private(set) var version: UInt64?

    public init(maxKeys: Int = defaultMaxKeys) { self.maxKeys = max(0, maxKeys) }

    /// What to do on the relay after an answer.
    public struct Change: Sendable, Equatable {
        /// Newly admitted: lift an earlier revocation (a node that logged out and joined again
        /// would otherwise be refused for the relay's revocation hold).
        public var admitted: [String]
        /// No longer admitted: revoke them on the relay so their connections drop now.
        public var revoked: [String]
        /// Entries of the answer that are not base64 32-byte keys, skipped.
        public var malformed: Int

        public init(admitted: [String], revoked: [String], malformed: Int) {
            self.admitted = admitted
            self.revoked = revoked
            self.malformed = malformed
        }
    }

    public enum Outcome: Sendable, Equatable {
        /// A list arrived (the first one included, even when nothing differs).
        case changed(Change)
        /// "Same set as at sinceVersion": only the version moved.
        case unchanged
        /// Unusable answer; the set and version stay as they were.
        case refused(String)
    }

    public var isReady: Bool { version != nil }

    /// What to send as `sinceVersion` next.
    public var sinceVersion: UInt64? { version }

    /// The relay's authorizer: is this canonical base64 key admitted?
    public func admits(_ key: String) -> Bool { version != nil && admitted.contains(key) }

    public mutating func apply(_ answer: RelayNodesResponse) -> Outcome {
        guard let list = answer.nodeKeys else {
            guard version != nil else {
                return .refused("the coordinator answered \"unchanged\" to a request without a version")
            }
            version = answer.version
            return .unchanged
        }
        guard list.count <= maxKeys else {
            return .refused("the coordinator sent \(list.count) node keys, more than the \(maxKeys) a relay keeps")
        }
        var next = Set<String>(minimumCapacity: list.count)
        var malformed = 0
        for text in list {
            if let key = Self.canonical(text) { next.insert(key) } else { malformed += 1 }
        }
        let change = Change(admitted: next.subtracting(admitted).sorted(), revoked: admitted.subtracting(next).sorted(),
                            malformed: malformed)
        admitted = next
        version = answer.version
        return .changed(change)
    }

    /// `text` re-encoded from its 32 bytes, so lookups by `PublicKey.base64` match; nil when
    /// it is not base64 of 32 bytes.
    static func canonical(_ text: String) -> String? {
        guard text.utf8.count <= 64, let raw = Base64.decode(text), raw.count == 32 else { return nil }
        return Base64.encode(raw)
    }
}
