/// The last netmap a node followed, kept in its state directory so that a meshd restarted
/// while the coordinator is unreachable still knows its peers, their keys, endpoints and home
/// relays, and the relays themselves (docs/architecture.md "Restarts without the
/// coordinator"). It records whose map it is: a map is only ever used with the registration
/// (coordinator and node id) it was received under.
public struct SavedNetmap: Codable, Equatable, Sendable {
    public var coordinatorURL: String
    /// The coordinator's public key (base64).
    public var coordinatorKey: String
    public var nodeID: Int64
    /// Unix seconds.
    public var savedAt: Int64
    public var netmap: NetmapState

    public init(registration: SavedRegistration, netmap: NetmapState, savedAt: Int64) {
        coordinatorURL = registration.coordinatorURL
        coordinatorKey = registration.coordinatorKey
        nodeID = registration.nodeID
        self.savedAt = savedAt
        self.netmap = netmap
    }

    public func belongs(to registration: SavedRegistration) -> Bool {
        coordinatorURL == registration.coordinatorURL && coordinatorKey == registration.coordinatorKey
            && nodeID == registration.nodeID
    }
}
