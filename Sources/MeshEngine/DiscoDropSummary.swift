/// Disco drops are never logged per datagram (a flood would become a log flood); a summary of
/// what is new since the last one says that something is knocking.
public enum DiscoDropSummary {
    /// "dropped N datagrams in the last 30 s (reason n, …)" for the counts that grew since
    /// `reported`, reasons sorted; nil when none grew.
    public static func line(current: [String: Int], reported: [String: Int], period: String = "30 s") -> String? {
        let delta = current.compactMap { reason, n -> (String, Int)? in
            let d = n &- (reported[reason] ?? 0)
            return d > 0 ? (reason, d) : nil
        }.sorted { $0.0 < $1.0 }
        guard !delta.isEmpty else { return nil }
        let total = delta.reduce(0) { $0 &+ $1.1 }
        let parts = delta.map { "\($0.0) \($0.1)" }.joined(separator: ", ")
        return "dropped \(total) datagrams in the last \(period) (\(parts))"
    }
}
