import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Blocks the main thread until SIGINT or SIGTERM, so the daemon can tidy up before exiting.
enum SignalWaiter {
    static func waitForTermination() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        var sig: Int32 = 0
        sigwait(&set, &sig)
    }

    /// True when SIGINT or SIGTERM is pending (and consumes it); does not wait.
    static func terminationPending() -> Bool {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        var zero = timespec(tv_sec: 0, tv_nsec: 0)
        return sigtimedwait(&set, nil, &zero) > 0
    }

    /// Worker threads must not take the termination signals meant for the main thread.
    static func blockInCurrentThread() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }
}
