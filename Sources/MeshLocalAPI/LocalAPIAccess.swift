/// Who may send which request. The socket's permissions decide who may connect at all (root,
/// and the `mesh` group when it exists); among those, only root (or the user meshd itself runs
/// as) may change the node's state, so a monitoring account in the group can read status and
/// metrics but cannot take the tunnel down or leave the network.
public enum LocalAPIAccess {
    /// The group whose members may read status, metrics, netcheck and ping through the socket.
    public static let readerGroup = "mesh"

    /// `peerUID` from SO_PEERCRED; nil when the kernel did not say (then nothing that changes
    /// state is allowed).
    public static func allows(_ request: LocalAPIRequest, peerUID: UInt32?, daemonUID: UInt32) -> Bool {
        guard request.changesState else { return true }
        guard let peerUID else { return false }
        return peerUID == 0 || peerUID == daemonUID
    }

    /// The refusal, one sentence.
    public static func refusal(_ request: LocalAPIRequest, peerUID: UInt32?) -> String {
        let who = peerUID.map { "uid \($0)" } ?? "a caller the kernel did not identify"
        return "'meshctl \(request.line.split(separator: " ").first ?? "")' changes the node's state and needs root (the request came from \(who))"
    }
}
