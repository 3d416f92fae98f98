import MeshBase
import Testing

@Suite struct LockedClosureTests {
    /// Held straight in a `Mutex<closure?>`, each read added two thunk layers and this loop
    /// overflowed the stack (SIGSEGV) after about 29,000 reads.
    @Test func hundredThousandReadsAndCallsDoNotGrowTheClosure() {
        let source = LockedClosure<@Sendable (Int) -> Int>({ $0 + 1 })
        var total = 0
        for i in 0..<100_000 {
            guard let f = source.function else { Issue.record("closure gone at read \(i)"); return }
            total &+= f(i)
        }
        #expect(total == 100_000 * 100_001 / 2)
    }

    @Test func replacingAndClearingTheClosureIsSeenByTheNextRead() {
        let hook = LockedClosure<@Sendable () -> String>()
        #expect(hook.function == nil)
        hook.function = { "first" }
        #expect(hook.function?() == "first")
        hook.function = { "second" }
        #expect(hook.function?() == "second")
        hook.function = nil
        #expect(hook.function == nil)
    }
}
