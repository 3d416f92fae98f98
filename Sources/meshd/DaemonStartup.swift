import Logging
import Synchronization

/// What every long-running meshd mode does first: termination and reload signals are blocked
/// before any thread exists (so all threads inherit the mask and only the main thread's sigwait
/// sees them), and logs go to standard error at one level that SIGHUP can change.
enum DaemonStartup {
    static let logLevel = DaemonLogLevel(.info)

    static func begin(level: Logger.Level) -> Logger {
        SignalWaiter.blockInCurrentThread()
        logLevel.set(level)
        LoggingSystem.bootstrap { label in
            DaemonLogHandler(inner: StreamLogHandler.standardError(label: label), level: logLevel)
        }
        return Logger(label: "meshd")
    }

    static func begin(verbose: Bool) -> Logger { begin(level: verbose ? .debug : .info) }
}

/// The one log level of the whole process: every logger asks it, so a reload reaches loggers
/// that modules made long ago. Every log call reads it (also the data plane's, below the
/// level), so it is one relaxed atomic load rather than a lock: a reload's new level is seen
/// by each thread soon after, and no log line needs it sooner.
final class DaemonLogLevel: Sendable {
    private let code: Atomic<UInt8>
    init(_ l: Logger.Level) { code = Atomic(Self.code(l)) }
    var current: Logger.Level { Self.level(code.load(ordering: .relaxed)) }
    func set(_ l: Logger.Level) { code.store(Self.code(l), ordering: .relaxed) }

    /// Spelled out (not `allCases`' index, which builds an array on every call).
    static func code(_ l: Logger.Level) -> UInt8 {
        switch l {
        case .trace: return 0
        case .debug: return 1
        case .info: return 2
        case .notice: return 3
        case .warning: return 4
        case .error: return 5
        case .critical: return 6
        }
    }

    static func level(_ c: UInt8) -> Logger.Level {
        switch c {
        case 0: return .trace
        case 1: return .debug
        case 2: return .info
        case 3: return .notice
        case 4: return .warning
        case 5: return .error
        default: return .critical
        }
    }
}

struct DaemonLogHandler: LogHandler {
    var inner: StreamLogHandler
    let level: DaemonLogLevel

    var logLevel: Logger.Level {
        get { level.current }
        set { level.set(newValue) }
    }
    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }
    var metadataProvider: Logger.MetadataProvider? {
        get { inner.metadataProvider }
        set { inner.metadataProvider = newValue }
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }
    func log(event: LogEvent) { inner.log(event: event) }
}
