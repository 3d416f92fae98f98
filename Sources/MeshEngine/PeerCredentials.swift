/// The caller of a unix socket, as SO_PEERCRED reports it (Linux `struct ucred`: pid, uid,
/// gid, three 32-bit fields in that order; this struct has the same layout, which the
/// untyped getsockopt relies on).
struct PeerCredentials: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}
