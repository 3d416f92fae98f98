import Foundation

/// Work on one batch that can be cut into independent shares (sealing or opening its packets).
protocol BatchShares: AnyObject {
    /// Does items `range` of the current batch; `helper` (0, 1, ...) picks the helper's own
    /// scratch state. Called on a helper thread while the batch's owner waits.
    func runShare(_ range: Range<Int>, helper: Int)
}

/// Spreads a batch's crypto over the machine's cores, fork-join: the thread that owns the batch
/// hands the later shares to its helper threads, does the first share itself and waits for
/// theirs, then goes on alone. Which thread finished first never changes the order packets
/// leave in, and a small batch (a lone ping, a few ACKs) never leaves its thread: below
/// `minimumShare` items per thread it is all done inline, with no wake-up and no hop.
/// Each data plane worker owns one, with its own helpers, so the two directions never wait
/// for each other's.
final class ParallelBatch: @unchecked Sendable {
    /// Sendable by hand: a helper's `range` is written by the owner before `start.signal()` and
    /// read by the helper after `start.wait()`; the semaphores order every access.
    private final class Helper: @unchecked Sendable {
        let start = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        var range = 0..<0
        unowned(unsafe) var job: BatchShares?
    }

    private let helpers: [Helper]
    private let stopping = ManagedAtomicFlag()
    let minimumShare: Int

    /// `threads` counts the owner: 1 means no helpers.
    init(threads: Int, minimumShare: Int, name: String) {
        self.minimumShare = max(1, minimumShare)
        helpers = (0..<max(0, threads - 1)).map { _ in Helper() }
        for (k, h) in helpers.enumerated() {
            let t = Thread { [stopping] in
                while true {
                    h.start.wait()
                    if stopping.get() { break }
                    h.job?.runShare(h.range, helper: k + 1)
                    h.done.signal()
                }
            }
            t.name = "\(name)-\(k + 1)"
            t.stackSize = 1 << 20
            t.start()
        }
    }

    var threads: Int { helpers.count + 1 }

    /// Runs `count` items of `job`: share 0 here (as helper 0), the rest on the helpers, when
    /// there are enough items; otherwise all of them here. True when the batch was split.
    @inline(__always)
    @discardableResult
    func run(_ count: Int, _ job: BatchShares) -> Bool {
        let shares = min(helpers.count + 1, count / minimumShare)
        guard shares > 1 else {
            if count > 0 { job.runShare(0..<count, helper: 0) }
            return false
        }
        let per = (count + shares - 1) / shares
        for k in 1..<shares {
            let h = helpers[k - 1]
            h.job = job
            h.range = (k * per)..<min(count, (k + 1) * per)
            h.start.signal()
        }
        job.runShare(0..<per, helper: 0)
        for k in 1..<shares { helpers[k - 1].done.wait() }
        return true
    }

    /// Ends the helper threads (each within one wake-up).
    func stop() {
        stopping.set(true)
        for h in helpers { h.start.signal() }
    }
}
