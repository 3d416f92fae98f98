import MeshCrypto
import Testing

/// Keys live in async code (the coordinator's handlers, the node's control loop) and are held
/// as four words because of a toolchain miscompile (see `KeyWords`). These tests hold keys
/// across suspension points in each shape the project uses (locals, optionals and tuples
/// returned from async functions, an actor's dictionary, task-group children, `async let`, a
/// continuation resumed from another task) and compare them byte for byte. With the keys'
/// storage switched back to `SIMD32<UInt8>`, the first of them crashes the test process.
@Suite struct KeysAcrossAwaitTests {
    static func key(_ seed: UInt8) -> PublicKey {
        var v = SIMD32<UInt8>()
        for i in 0..<32 { v[i] = seed &+ UInt8(i) &* 7 }
        return PublicKey(bytes: v)
    }

    @inline(never) static func suspend() async { await Task.yield() }

    static func returnedAcrossAwait(_ seed: UInt8) async -> (PublicKey, PublicKey?, String) {
        let k = key(seed)
        let maybe: PublicKey? = seed % 3 == 0 ? nil : key(seed &+ 9)
        await suspend()
        let name = "node-\(seed)"
        await suspend()
        return (k, maybe, name)
    }

    actor Registry {
        var byKey: [PublicKey: UInt8] = [:]
        func put(_ k: PublicKey, _ seed: UInt8) async {
            await KeysAcrossAwaitTests.suspend()
            byKey[k] = seed
        }
        func get(_ k: PublicKey) -> UInt8? { byKey[k] }
    }

    @Test func localsOptionalsAndTuplesSurviveSuspension() async {
        for s in 0...255 {
            let seed = UInt8(s)
            let (k, maybe, name) = await Self.returnedAcrossAwait(seed)
            #expect(k == Self.key(seed))
            #expect(maybe == (seed % 3 == 0 ? nil : Self.key(seed &+ 9)))
            #expect(name == "node-\(seed)")
        }
    }

    @Test func anActorDictionaryKeyedByKeysFindsEveryKey() async {
        let registry = Registry()
        for s in 0...255 { await registry.put(Self.key(UInt8(s)), UInt8(s)) }
        for s in 0...255 { #expect(await registry.get(Self.key(UInt8(s))) == UInt8(s)) }
    }

    @Test func taskGroupChildrenAndAsyncLetKeepTheirKeys() async {
        let results = await withTaskGroup(of: (UInt8, PublicKey, PublicKey?).self) { group in
            for s in 0...255 {
                group.addTask {
                    let (k, maybe, _) = await Self.returnedAcrossAwait(UInt8(s))
                    async let other = Self.returnedAcrossAwait(UInt8(s) &+ 1)
                    let (o, _, _) = await other
                    #expect(o == Self.key(UInt8(s) &+ 1))
                    return (UInt8(s), k, maybe)
                }
            }
            var out: [(UInt8, PublicKey, PublicKey?)] = []
            for await r in group { out.append(r) }
            return out
        }
        #expect(results.count == 256)
        for (seed, k, maybe) in results {
            #expect(k == Self.key(seed))
            #expect(maybe == (seed % 3 == 0 ? nil : Self.key(seed &+ 9)))
        }
    }

    @Test func aContinuationResumedFromAnotherTaskCarriesKeys() async {
        for s in 0..<64 {
            let seed = UInt8(s)
            let (a, b): (PublicKey, PrivateKey) = await withCheckedContinuation { c in
                Task {
                    await Self.suspend()
                    c.resume(returning: (Self.key(seed), PrivateKey(bytes: Self.key(seed &+ 1).bytes)))
                }
            }
            #expect(a == Self.key(seed))
            #expect(b == PrivateKey(bytes: Self.key(seed &+ 1).bytes))
        }
    }
}
