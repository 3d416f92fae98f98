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
/// that modules made long ago.
final class DaemonLogLevel: Sendable {
    private let level: Mutex<Logger.Level>
    init(_ l: Logger.Level) { level = Mutex(l) }
    var current: Logger.Level { level.withLock { $0 } }
    func set(_ l: Logger.Level) { level.withLock { $0 = l } }
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
