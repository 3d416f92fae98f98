import Logging

/// What every long-running meshd mode does first: termination signals are blocked before any
/// thread exists (so all threads inherit the mask and only the main thread's sigwait sees them),
/// and logs go to standard error.
enum DaemonStartup {
    static func begin(verbose: Bool) -> Logger {
        SignalWaiter.blockInCurrentThread()
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = verbose ? .debug : .info
            return h
        }
        var logger = Logger(label: "meshd")
        logger.logLevel = verbose ? .debug : .info
        return logger
    }
}
