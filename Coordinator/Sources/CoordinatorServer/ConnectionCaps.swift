import Logging
import NIOCore
import Synchronization

/// How many connections the node API port holds, in all and per source address.
///
/// Every open connection is a file descriptor. Without a cap, one host opening ~1,100 idle
/// connections exhausted a 1024 descriptor limit: accept failed for everyone (and the
/// database could not open files). With caps below the limit, extra connections are accepted
/// and closed at once, so descriptors stay free and other sources are still served.
/// Pure: the caller passes the source key and the time.
public struct ConnectionCaps: Sendable {
    public let total: Int
    public let perSource: Int
    /// Sources not held to `perSource` (trusted reverse proxies); they count toward `total`.
    public let exemptSources: Set<String>
    public private(set) var open = 0
    /// Open connections per source key; a key leaves when its count drops to 0, so the map
    /// is bounded by `total`.
    public private(set) var bySource: [String: Int] = [:]
    public private(set) var refusedSinceReport = 0
    var lastReport: NIODeadline?

    public init(total: Int, perSource: Int, exemptSources: Set<String> = []) {
        self.total = max(1, total)
        self.perSource = max(1, perSource)
        self.exemptSources = exemptSources
    }

    public enum Verdict: Equatable, Sendable {
        case admitted
        /// Refused; `report` is set when a log line is due (at most one per `reportInterval`)
        /// and tells how many were refused since the previous line (this one included).
        case refused(reason: String, report: Int?)
    }

    public static let reportInterval = TimeAmount.seconds(10)

    public mutating func admit(source: String, now: NIODeadline) -> Verdict {
        let fromSource = bySource[source] ?? 0
        let reason: String
        if open >= total {
            reason = "total cap \(total) reached (\(fromSource) open from \(source))"
        } else if fromSource >= perSource, !exemptSources.contains(source) {
            reason = "per-source cap \(perSource) reached by \(source) (\(open) open in all, total cap \(total))"
        } else {
            open += 1
            bySource[source] = fromSource + 1
            return .admitted
        }
        refusedSinceReport += 1
        if lastReport.map({ now - $0 >= Self.reportInterval }) ?? true {
            lastReport = now
            let n = refusedSinceReport
            refusedSinceReport = 0
            return .refused(reason: reason, report: n)
        }
        return .refused(reason: reason, report: nil)
    }

    public mutating func release(source: String) {
        guard let n = bySource[source] else { return }
        open = max(0, open - 1)
        bySource[source] = n > 1 ? n - 1 : nil
    }

    /// The default total cap for a descriptor limit: the limit minus a reserve for what else
    /// needs descriptors (database and WAL files, STUN sockets, the admin socket, event loops).
    public static func defaultTotal(fileDescriptorLimit limit: Int) -> Int {
        let reserve = max(64, limit / 8)
        return min(max(16, limit - reserve), 1_000_000)
    }

    /// The source key of a peer address: the IPv4 address, or the /64 of an IPv6 one (one
    /// host usually owns a whole /64, so counting single addresses would not cap it). An IPv4
    /// peer seen on a dual-stack socket (::ffff:a.b.c.d) counts as that IPv4 address.
    public static func sourceKey(_ address: SocketAddress?) -> String {
        switch address {
        case .v4(let a)?:
            return address?.ipAddress ?? "v4:\(a)"
        case .v6(let a)?:
            let bytes = withUnsafeBytes(of: a.address.sin6_addr) { Array($0) }
            guard bytes.count == 16 else { return address?.ipAddress ?? "v6" }
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
                return bytes[12..<16].map(String.init).joined(separator: ".")
            }
            var parts: [String] = []
            for i in stride(from: 0, to: 8, by: 2) { parts.append(String(UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1]), radix: 16)) }
            return parts.joined(separator: ":") + "::/64"
        case .unixDomainSocket?:
            return "unix"
        case nil:
            return "unknown"
        }
    }
}

/// The node API's connection gate: `ConnectionCaps` behind a lock, with the log lines
/// (rate-limited) for refusals and for connections closed by `RequestDeadlines`.
public final class ConnectionGate: Sendable {
    let caps: Mutex<ConnectionCaps>
    let timeouts = Mutex<(count: Int, last: NIODeadline?)>((0, nil))
    let logger: Logger
    public let headTimeout: TimeAmount

    public init(total: Int, perSource: Int, exemptSources: Set<String> = [], headTimeout: TimeAmount, logger: Logger) {
        caps = Mutex(ConnectionCaps(total: total, perSource: perSource, exemptSources: exemptSources))
        self.logger = logger
        self.headTimeout = headTimeout
    }

    public var total: Int { caps.withLock { $0.total } }
    public var perSource: Int { caps.withLock { $0.perSource } }
    public var openCount: Int { caps.withLock { $0.open } }

    /// Admits the connection (and counts it until it closes) or closes it at once.
    /// Returns whether it was admitted.
    func admit(_ channel: any Channel) -> Bool {
        let source = ConnectionCaps.sourceKey(channel.remoteAddress)
        let verdict = caps.withLock { $0.admit(source: source, now: .now()) }
        switch verdict {
        case .admitted:
            channel.closeFuture.whenComplete { [self] _ in caps.withLock { $0.release(source: source) } }
            return true
        case .refused(let reason, let report):
            channel.close(promise: nil)
            if let report {
                logger.warning("connection cap reached: \(reason); refusing (\(report) connection(s) refused in the last \(ConnectionCaps.reportInterval.nanoseconds / 1_000_000_000) s)")
            }
            return false
        }
    }

    /// A connection was closed for sending no complete request in time (logged at most
    /// every 10 s, with the count).
    func timedOut(_ what: String) {
        let now = NIODeadline.now()
        let report: Int? = timeouts.withLock { t in
            t.count += 1
            guard t.last.map({ now - $0 >= ConnectionCaps.reportInterval }) ?? true else { return nil }
            t.last = now
            let n = t.count
            t.count = 0
            return n
        }
        if let report {
            logger.notice("closed \(report) connection(s) in the last 10 s: \(what)")
        }
    }
}

/// A connection refused by the gate (the child channel's setup fails with it; the channel is
/// already closed).
struct ConnectionRefused: Error {}
