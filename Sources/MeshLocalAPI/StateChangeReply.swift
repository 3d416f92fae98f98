/// The answer to `down`, `up` and `logout` (`meshctl down|up|logout --json`).
///
/// Schema (stable): `{"state": "down" | "up" | "loggedOut", "changed": Bool}`: the node's state
/// after the request, and whether the request changed it (`down` twice: the second answers
/// `changed: false`). After `loggedOut` the daemon exits.
public struct StateChangeReply: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable { case down, up, loggedOut }
    public var state: State
    public var changed: Bool
    public init(state: State, changed: Bool) {
        self.state = state
        self.changed = changed
    }

    /// One sentence for the human output.
    public var sentence: String {
        switch (state, changed) {
        case (.down, true): "tunnel down: the node stays registered and keeps its addresses; `meshctl up` brings it back"
        case (.down, false): "the tunnel was already down"
        case (.up, true): "tunnel up"
        case (.up, false): "the tunnel was already up"
        case (.loggedOut, _): "logged out: this node has left the network and meshd stops; joining again needs a new auth key"
        }
    }
}
