import MeshEngine
import Synchronization
import Testing

@Suite struct TunnelSwitchHooksTests {
    /// While the hook sat straight in a `Mutex<closure?>`, every read of `onSwitched` wrapped it in
    /// two more thunks (standalone, same shape: 100,000 reads took about 40 s, growing quadratically).
    @Test func hundredThousandReadsOfTheHookCallTheClosureSetOnce() {
        let hooks = TunnelSwitchHooks()
        let ups = Mutex(0)
        hooks.onSwitched = { up in if up { ups.withLock { $0 += 1 } } }
        for i in 0..<100_000 {
            guard let hook = hooks.onSwitched else { Issue.record("hook gone at read \(i)"); return }
            hook(true)
        }
        #expect(ups.withLock { $0 } == 100_000)
    }
}
