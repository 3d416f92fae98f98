// The Swift 6.3.1 miscompile behind `KeyWords` (Sources/MeshCrypto/Key32.swift): a struct whose
// stored property is a SIMD vector, held in an async function across `await` and returned in a
// tuple with an optional of itself, crashes or comes back corrupted under -O. Built twice by
// simd_across_await.sh: as is (SIMD storage) and with -D WORDS (four UInt64, what the keys use).
// Prints "ok" when every value came back intact.

struct Key: Equatable {
    #if WORDS
    private let words: (UInt64, UInt64, UInt64, UInt64)
    var bytes: SIMD32<UInt8> { unsafeBitCast(words, to: SIMD32<UInt8>.self) }
    init(bytes: SIMD32<UInt8>) { words = unsafeBitCast(bytes, to: (UInt64, UInt64, UInt64, UInt64).self) }
    static func == (a: Key, b: Key) -> Bool { a.bytes == b.bytes }
    #else
    let bytes: SIMD32<UInt8>
    init(bytes: SIMD32<UInt8>) { self.bytes = bytes }
    #endif

    init(seed: UInt8) {
        var v = SIMD32<UInt8>()
        for i in 0..<32 { v[i] = seed &+ UInt8(i) }
        self.init(bytes: v)
    }
}

@inline(never) func suspend() async { await Task.yield() }

func heldAcrossAwait(_ seed: UInt8) async -> (Key, Key?, String) {
    let key = Key(seed: seed)
    let maybe: Key? = seed % 3 == 0 ? nil : Key(seed: seed &+ 9)
    await suspend()
    let name = "node-\(seed)"
    await suspend()
    return (key, maybe, name)
}

@main struct Main {
    static func main() async {
        var bad = 0
        for s in 0...255 {
            let seed = UInt8(s)
            let (key, maybe, name) = await heldAcrossAwait(seed)
            if key != Key(seed: seed) || name != "node-\(s)" { bad += 1 }
            if maybe != (s % 3 == 0 ? nil : Key(seed: seed &+ 9)) { bad += 1 }
        }
        print(bad == 0 ? "ok" : "corrupted \(bad)")
    }
}
