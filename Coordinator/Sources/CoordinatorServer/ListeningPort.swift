import Synchronization

/// The TCP port a server bound, for callers that start it on port 0 (tests, labs) and must
/// wait for the bind before they connect.
final class ListeningPort: Sendable {
    private let state = Mutex<(port: Int?, waiters: [CheckedContinuation<Int, any Error>])>((nil, []))

    var port: Int? { state.withLock { $0.port } }

    func wait() async throws -> Int {
        try await withCheckedThrowingContinuation { c in
            let port = state.withLock { s -> Int? in
                if let p = s.port { return p }
                s.waiters.append(c)
                return nil
            }
            if let port { c.resume(returning: port) }
        }
    }

    func bound(_ port: Int) {
        let waiters = state.withLock { s -> [CheckedContinuation<Int, any Error>] in
            s.port = port
            defer { s.waiters = [] }
            return s.waiters
        }
        for c in waiters { c.resume(returning: port) }
    }

    /// The server stopped (or never started): nobody waits for ever.
    func fail(_ message: String) {
        let waiters = state.withLock { s -> [CheckedContinuation<Int, any Error>] in
            defer { s.waiters = [] }
            return s.waiters
        }
        for c in waiters { c.resume(throwing: StartupError(message)) }
    }
}
