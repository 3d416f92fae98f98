#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one lock for classes whose state is guarded by hand (each such class says what it guards).
/// State shared by the data plane's TUN, UDP and timer threads is a few field updates per critical
/// section, so an uncontended pthread mutex is the cheapest fit; state that can live inside the
/// lock uses `Synchronization.Mutex` instead. Sendable by hand: the mutex is the
/// synchronisation; its pointer never changes.
public final class Lock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    public init() { pthread_mutex_init(mutex, nil) }
    deinit { pthread_mutex_destroy(mutex); mutex.deallocate() }

    /// For the few places that must release the lock before calling out on some paths;
    /// everywhere else use `withLock`.
    @inline(__always) public func lock() { pthread_mutex_lock(mutex) }
    @inline(__always) public func unlock() { pthread_mutex_unlock(mutex) }

    @inline(__always)
    public func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
