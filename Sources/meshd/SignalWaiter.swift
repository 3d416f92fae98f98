import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Blocks the main thread until a signal the daemon acts on: SIGINT or SIGTERM (tidy up and
/// exit) or SIGHUP (reload what can be reloaded; standalone mode ignores it).
enum SignalWaiter {
    enum Received { case terminate, reload }

    private static func handledSet(reload: Bool) -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        if reload { sigaddset(&set, SIGHUP) }
        return set
    }

    /// Waits for SIGINT, SIGTERM or SIGHUP.
    static func next() -> Received {
        var set = handledSet(reload: true)
        var sig: Int32 = 0
        sigwait(&set, &sig)
        return sig == SIGHUP ? .reload : .terminate
    }

    /// Waits for SIGINT or SIGTERM; a SIGHUP meanwhile stays blocked and is dropped.
    static func waitForTermination() {
        var set = handledSet(reload: false)
        var sig: Int32 = 0
        sigwait(&set, &sig)
    }

    /// True when SIGINT or SIGTERM is pending (and consumes it); does not wait.
    static func terminationPending() -> Bool {
        var set = handledSet(reload: false)
        var zero = timespec(tv_sec: 0, tv_nsec: 0)
        return sigtimedwait(&set, nil, &zero) > 0
    }

    /// Worker threads must not take the signals meant for the main thread.
    static func blockInCurrentThread() {
        var set = handledSet(reload: true)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }
}

/// A long start-up (a wg-quick file with 100,000 peers parses and loads for seconds) must still
/// end at once on SIGINT or SIGTERM, whatever phase it is in: a thread waits for them until
/// `finish()` and exits the process. Nothing needs tidying before the node runs (the kernel
/// removes a TUN device with its process; a stale socket file is replaced at the next start).
/// A signal that arrives just after `finish()` is sent again for the main thread's sigwait.
final class StartupInterruptGuard: Sendable {
    private let finished = Atomic<Bool>(false)

    init(onInterrupt: @escaping @Sendable () -> Void) {
        Thread.detachNewThread { [self] in
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGINT)
            sigaddset(&set, SIGTERM)
            var tick = timespec(tv_sec: 0, tv_nsec: 50_000_000)
            while !finished.load(ordering: .acquiring) {
                let sig = sigtimedwait(&set, nil, &tick)
                guard sig > 0 else { continue }
                if finished.load(ordering: .acquiring) {
                    kill(getpid(), sig)
                    return
                }
                onInterrupt()
                exit(0)
            }
        }
    }

    func finish() { finished.store(true, ordering: .releasing) }
}
