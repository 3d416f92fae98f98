import Disco
import MeshBase
import Testing

@Suite struct PathPreferenceTests {
    let public4 = UDPAddress(ipv4: 203, 0, 113, 12, port: 41641)
    let public4b = UDPAddress(ipv4: 198, 51, 100, 7, port: 41641)
    let lan4 = UDPAddress(ipv4: 10, 1, 0, 20, port: 41641)
    let global6 = UDPAddress(addressBytes: [0x20, 0x01, 0x0d, 0xb8, 0, 2] + [UInt8](repeating: 0, count: 9) + [0x10], port: 41641)!
    let ula6 = UDPAddress(addressBytes: [0xfd, 0, 0, 1] + [UInt8](repeating: 0, count: 11) + [0x10], port: 41641)!

    func ms(_ v: Double) -> Duration { .nanoseconds(Int64(v * 1_000_000)) }

    @Test func anyPathBeatsNone() {
        #expect(PathPreference.isBetter(public4, ms(50), than: global6, nil))
    }

    @Test func sameFamilyLowerLatencyByAMarginAndLANFirst() {
        #expect(PathPreference.isBetter(public4b, ms(10), than: public4, ms(20)))
        #expect(!PathPreference.isBetter(public4b, ms(19), than: public4, ms(20)))  // within 10%: no flap
        #expect(PathPreference.isBetter(lan4, ms(15), than: public4, ms(10)))       // LAN, not twice as slow
        #expect(!PathPreference.isBetter(lan4, ms(25), than: public4, ms(10)))
        #expect(!PathPreference.isBetter(public4, ms(10), than: lan4, ms(15)))
    }

    /// The rule of docs/architecture.md: IPv6 when its latency is within 30% + 1 ms of IPv4's.
    @Test func ipv6WinsWhenClose() {
        #expect(PathPreference.isBetter(global6, ms(0.30), than: public4, ms(0.10)))  // sub-ms: all noise
        #expect(PathPreference.isBetter(global6, ms(20), than: public4, ms(20)))
        #expect(PathPreference.isBetter(global6, ms(26), than: public4, ms(20)))      // 26 <= 27
        #expect(!PathPreference.isBetter(global6, ms(28), than: public4, ms(20)))
        #expect(PathPreference.isBetter(global6, ms(5), than: public4, ms(20)))
    }

    @Test func ipv4TakesOverOnlyWhenIPv6IsClearlyWorse() {
        // Equal, close, or just past the bound (within the 10% margin): IPv6 stays.
        #expect(!PathPreference.isBetter(public4, ms(20), than: global6, ms(20)))
        #expect(!PathPreference.isBetter(public4, ms(0.05), than: global6, ms(0.5)))
        #expect(!PathPreference.isBetter(public4, ms(20), than: global6, ms(29)))     // 29 <= 27 * 1.1
        #expect(PathPreference.isBetter(public4, ms(20), than: global6, ms(30)))
        #expect(PathPreference.isBetter(public4, ms(10), than: global6, ms(60)))
    }

    @Test func theTwoDirectionsNeverBothWin() {
        for l4 in stride(from: 0.1, through: 80, by: 1.7) {
            for l6 in stride(from: 0.1, through: 80, by: 2.3) {
                let six = PathPreference.isBetter(global6, ms(l6), than: public4, ms(l4))
                let four = PathPreference.isBetter(public4, ms(l4), than: global6, ms(l6))
                #expect(!(six && four), "v4 \(l4) ms, v6 \(l6) ms")
            }
        }
    }

    @Test func sameSiteHalvingAppliesAcrossFamilies() {
        // A LAN IPv4 path at 10 ms scores 5; a global IPv6 one at 8 ms is past 5 * 1.3 + 1.
        #expect(!PathPreference.isBetter(global6, ms(8), than: lan4, ms(10)))
        // A ULA IPv6 path is same-site too: 8 ms scores 4.
        #expect(PathPreference.isBetter(ula6, ms(8), than: lan4, ms(10)))
    }
}
