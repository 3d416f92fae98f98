/// Whether meshd may write the original resolv.conf back: at `meshctl down`, at exit, and at
/// the next start after a crash (the backup is still in the state directory). The file is
/// rewritten in place (O_TRUNC, then write), so a crash mid-write leaves a prefix of what was
/// being written; such a prefix is ours to finish. Anything else someone wrote while meshd
/// managed the file (a DHCP client, an admin) is theirs and stays.
public enum ResolvConfRestore {
    public enum Decision: Equatable, Sendable {
        /// The file holds what meshd wrote, or part of it, or part of the original (a restore
        /// cut short): write the original back.
        case writeOriginal
        /// The original is already there (meshd crashed before its write, or after its restore).
        case alreadyOriginal
        /// Someone else rewrote the file (or removed it): leave it, forget the backup.
        case keepTheirs
    }

    /// `original`: the backup; `written`: what meshd recorded it wrote, or was about to write
    /// (two contents while a rewrite for a new domain is under way; none: the backup was taken
    /// but no write recorded, so none begun); `current`: the file now (nil: absent).
    public static func decide(original: [UInt8], written: [[UInt8]], current: [UInt8]?) -> Decision {
        guard let current else { return .keepTheirs }
        if current == original { return .alreadyOriginal }
        guard !written.isEmpty else { return .keepTheirs }
        if written.contains(current) { return .writeOriginal }
        if written.contains(where: { isPrefix(current, of: $0) }) || isPrefix(current, of: original) { return .writeOriginal }
        return .keepTheirs
    }

    /// The same with at most one recorded write.
    public static func decide(original: [UInt8], written: [UInt8]?, current: [UInt8]?) -> Decision {
        decide(original: original, written: written.map { [$0] } ?? [], current: current)
    }

    static func isPrefix(_ a: [UInt8], of b: [UInt8]) -> Bool {
        a.count < b.count && b.starts(with: a)
    }
}
