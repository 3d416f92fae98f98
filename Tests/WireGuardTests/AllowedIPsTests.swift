import Testing
import WireGuard

final class Tag: Sendable { let name: String; init(_ n: String) { name = n } }

@Suite struct AllowedIPsTests {
    @Test func longestPrefixWins() {
        var t = AllowedIPs<Tag>()
        let wide = Tag("wide"), narrow = Tag("narrow"), host = Tag("host")
        t.insert(address: [10, 0, 0, 0], prefixLength: 8, value: wide)
        t.insert(address: [10, 1, 0, 0], prefixLength: 16, value: narrow)
        t.insert(address: [10, 1, 2, 3], prefixLength: 32, value: host)
        #expect(t.lookupV4(0x0A01_0203)?.name == "host")
        #expect(t.lookupV4(0x0A01_0204)?.name == "narrow")
        #expect(t.lookupV4(0x0A02_0000)?.name == "wide")
        #expect(t.lookupV4(0x0B00_0000) == nil)
    }

    @Test func defaultRouteAndRemoval() {
        var t = AllowedIPs<Tag>()
        let all = Tag("all"), other = Tag("other")
        t.insert(address: [0, 0, 0, 0], prefixLength: 0, value: all)
        t.insert(address: [192, 0, 2, 0], prefixLength: 24, value: other)
        #expect(t.lookupV4(0xC000_0201)?.name == "other")
        t.removeAll(for: other)
        #expect(t.lookupV4(0xC000_0201)?.name == "all")
    }

    /// Removal goes through each owner's own host list; a host that moved to another owner
    /// stays with the new owner when the old one is removed.
    @Test func removingAnOwnerRemovesOnlyWhatItStillOwns() {
        var t = AllowedIPs<Tag>()
        let a = Tag("a"), b = Tag("b")
        let v6: [UInt8] = [0xfd, 0] + [UInt8](repeating: 0, count: 13) + [1]
        t.insert(address: [10, 0, 0, 1], prefixLength: 32, value: a)
        t.insert(address: [10, 0, 0, 2], prefixLength: 32, value: a)
        t.insert(address: v6, prefixLength: 128, value: a)
        t.insert(address: [10, 0, 0, 2], prefixLength: 32, value: b)
        t.removeAll(for: a)
        #expect(t.lookupV4(0x0A00_0001) == nil)
        #expect(t.lookupV4(0x0A00_0002)?.name == "b")
        var v6simd = SIMD16<UInt8>()
        for i in 0..<16 { v6simd[i] = v6[i] }
        #expect(t.lookupV6(v6simd) == nil)
        t.removeAll(for: b)
        #expect(t.lookupV4(0x0A00_0002) == nil)
        // Many owners: each removal leaves the others' hosts alone.
        let tags = (0..<1000).map { Tag("\($0)") }
        for (i, tag) in tags.enumerated() {
            t.insert(address: [10, 1, UInt8(i / 256), UInt8(i % 256)], prefixLength: 32, value: tag)
        }
        for tag in tags[..<500] { t.removeAll(for: tag) }
        #expect(t.lookupV4(0x0A01_0000) == nil)
        #expect(t.lookupV4(0x0A01_0000 + 999)?.name == "999")
    }

    @Test func ipv6Prefixes() {
        var t = AllowedIPs<Tag>()
        let net = Tag("net"), host = Tag("host")
        var a = [UInt8](repeating: 0, count: 16); a[0] = 0xfd; a[1] = 0x7a
        t.insert(address: a, prefixLength: 48, value: net)
        var h = a; h[15] = 1
        t.insert(address: h, prefixLength: 128, value: host)
        var q = SIMD16<UInt8>(); q[0] = 0xfd; q[1] = 0x7a; q[15] = 1
        #expect(t.lookupV6(q)?.name == "host")
        q[15] = 2
        #expect(t.lookupV6(q)?.name == "net")
        q[1] = 0x7b
        #expect(t.lookupV6(q) == nil)
    }

    @Test func packetLookupUsesSourceOrDestination() {
        var t = AllowedIPs<Tag>()
        let s = Tag("src"), d = Tag("dst")
        t.insert(address: [10, 0, 0, 1], prefixLength: 32, value: s)
        t.insert(address: [10, 0, 0, 2], prefixLength: 32, value: d)
        let p = InMemoryPair.ipv4(from: [10, 0, 0, 1], to: [10, 0, 0, 2])
        p.withUnsafeBytes { buf in
            #expect(t.lookup(packet: buf, source: true)?.name == "src")
            #expect(t.lookup(packet: buf, source: false)?.name == "dst")
            #expect(t.lookup(packet: UnsafeRawBufferPointer(rebasing: buf[0..<10]), source: true) == nil)
        }
    }
}
