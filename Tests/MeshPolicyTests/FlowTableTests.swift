import MeshBase
import MeshPolicy
import Testing

@Suite struct FlowTableTests {
    func key(_ n: Int, proto: UInt8 = 17) -> FlowKey {
        FlowKey(remote: n % 3 == 0 ? Fixture.v6(UInt64(n % 5)) : Fixture.v4(UInt32(n % 5)),
                local: n % 3 == 0 ? Fixture.v6(100) : Fixture.v4(100),
                remotePort: UInt16(truncatingIfNeeded: n), localPort: 53, proto: proto)
    }

    func state(_ t: Int64, inbound: Bool) -> FlowState {
        FlowState(lastSeen: MonotonicTime(nanoseconds: t), inbound: inbound, cut: false, closing: false)
    }

    @Test func keysRoundTripTheirAddresses() {
        let k = FlowKey(remote: Fixture.v6(7), local: Fixture.v6(8), remotePort: 1, localPort: 2, proto: 6)
        #expect(k.remote == Fixture.v6(7) && k.local == Fixture.v6(8))
        let k4 = FlowKey(remote: Fixture.v4(7), local: Fixture.v4(8), remotePort: 1, localPort: 2, proto: 6)
        #expect(k4.remote == Fixture.v4(7) && k4.local == Fixture.v4(8))
        // The same 64 low bits in another family are another flow.
        #expect(FlowKey(remote: .v6(high: 0, low: 7), local: .v6(high: 0, low: 8), remotePort: 1, localPort: 2, proto: 6) != k4)
    }

    /// Random inserts, lookups, touches and removals against a plain model, with tiny shares
    /// so probe runs wrap around and both shares evict.
    @Test func agreesWithAModelUnderRandomOperations() {
        for seed in [1, 2, 3, 4] as [UInt64] {
            var rng = SplitMix(seed: seed)
            let inCap = 5, outCap = 3
            var table = FlowTable(inboundCapacity: inCap, outboundCapacity: outCap, seed: rng.next())
            // Model: per share, keys from least to most recently used.
            var model: [Bool: [FlowKey]] = [true: [], false: []]
            for step in 0..<4_000 {
                let k = key(Int(rng.next() % 24))
                let inbound = rng.next() % 2 == 0
                let e = table.find(k)
                let share = model[true]!.contains(k) ? true : (model[false]!.contains(k) ? false : nil)
                #expect((e >= 0) == (share != nil), "step \(step)")
                switch rng.next() % 3 {
                case 0 where e < 0:
                    let (index, evicted) = table.insert(k, state(Int64(step), inbound: inbound))
                    #expect(table.key(index) == k && table.states[Int(index)].inbound == inbound)
                    let full = model[inbound]!.count == (inbound ? inCap : outCap)
                    #expect(evicted == full)
                    if full { model[inbound]!.removeFirst() }
                    model[inbound]!.append(k)
                case 1 where e >= 0:
                    table.touch(e, now: MonotonicTime(nanoseconds: Int64(step)))
                    model[share!]!.removeAll { $0 == k }
                    model[share!]!.append(k)
                case 2 where e >= 0:
                    table.remove(e)
                    model[share!]!.removeAll { $0 == k }
                default:
                    break
                }
                #expect(table.inboundCount == model[true]!.count && table.outboundCount == model[false]!.count)
                for s in [true, false] {
                    var order: [FlowKey] = []
                    table.forEachIndex(inbound: s) { order.append(table.key($0)) }
                    #expect(order == model[s]!.reversed(), "step \(step)")
                    let lru = table.leastRecentlyUsed(inbound: s)
                    #expect((lru >= 0 ? table.key(lru) : nil) == model[s]!.first)
                }
            }
        }
    }

    @Test func aFullShareEvictsOnlyItsOwnFlows() {
        var table = FlowTable(inboundCapacity: 100, outboundCapacity: 10, seed: 42)
        for i in 0..<10 { table.insert(key(1_000 + i, proto: 6), state(0, inbound: false)) }
        // A peer opening 10,000 flows churns its share and leaves ours alone.
        for i in 0..<10_000 {
            let k = key(i)
            if table.find(k) < 0 { table.insert(k, state(Int64(i), inbound: true)) }
        }
        #expect(table.inboundCount == 100 && table.outboundCount == 10)
        for i in 0..<10 { #expect(table.find(key(1_000 + i, proto: 6)) >= 0) }
    }

    @Test func updateKeepsTheShare() {
        var table = FlowTable(inboundCapacity: 2, outboundCapacity: 2, seed: 0)
        let (e, _) = table.insert(key(1), state(0, inbound: true))
        table.update(e) { $0.cut = true; $0.inbound = false }
        #expect(table.states[Int(e)].cut && table.states[Int(e)].inbound)
    }

    @Test func capacitiesAreClamped() {
        let t = FlowTable(inboundCapacity: 0, outboundCapacity: -5, seed: 0)
        #expect(t.inboundCapacity == 1 && t.outboundCapacity == 1)
    }
}
