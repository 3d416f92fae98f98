/// Tests wait for state that other tasks, event loops or processes change; polling with a
/// deadline keeps every wait bounded without each test inventing its own loop.
///
/// Polls `condition` every `pollInterval` until it holds or `timeout` has passed, and checks it
/// once more at the deadline so a condition that became true during the last sleep still counts.
/// Returns whether it held.
public func eventually(
    within timeout: Duration = .seconds(10),
    pollingEvery pollInterval: Duration = .milliseconds(5),
    _ condition: () async -> Bool
) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: pollInterval)
    }
    return await condition()
}

/// Thrown by `waitUntil` so a test that cannot go on without the condition stops with a reason.
public struct ConditionTimedOut: Error, CustomStringConvertible {
    public let timeout: Duration
    public let what: String
    public var description: String { "\(what) not met within \(timeout)" }
}

/// `eventually` for callers that cannot continue without the condition: throws on timeout.
public func waitUntil(
    _ what: String = "condition",
    within timeout: Duration = .seconds(10),
    pollingEvery pollInterval: Duration = .milliseconds(5),
    _ condition: () async -> Bool
) async throws {
    guard await eventually(within: timeout, pollingEvery: pollInterval, condition) else {
        throw ConditionTimedOut(timeout: timeout, what: what)
    }
}
