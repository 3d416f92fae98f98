import MeshBase
import MeshNode
import Testing

@Suite struct KernelIPv6AddressTests {
    /// Lines as Linux writes them (`cat /proc/net/if_inet6`), with flags 0x80 permanent,
    /// 0xc0 permanent+tentative, 0x20 deprecated, 0x08 failed duplicate detection, 0x01 temporary.
    let text = """
        20010db8000100000000000000000010 02 40 00 80     eth0
        fe800000000000000000000000000001 02 40 20 80     eth0
        00000000000000000000000000000001 01 80 10 80       lo
        20010db8000100000000000000000011 02 40 00 c0     eth0
        20010db8000100000000000000000012 02 40 00 20     eth0
        20010db8000100000000000000000013 02 40 00 08     eth0
        fd000000000000000000000000000014 03 40 00 01  wlan0
        not a line
        20010db80001000000000000000000zz 02 40 00 80     eth0
        20010db8000100000000000000000015 02 40 00 80
        """

    @Test func parsesAddressesAndFlags() throws {
        let list = KernelIPv6Address.parse(procIfInet6: text)
        #expect(list.map(\.interface) == ["eth0", "eth0", "lo", "eth0", "eth0", "eth0", "wlan0"])
        #expect(list[0].address == (try IPAddress("2001:db8:1::10")))
        #expect(list[1].address == (try IPAddress("fe80::1")))
        #expect(list[6].address == (try IPAddress("fd00::14")))
        // Usable now: permanent and temporary; not tentative, deprecated or failed.
        #expect(list.map(\.isPreferred) == [true, true, true, false, false, false, true])
    }

    @Test func emptyOrGarbageGivesNothing() {
        #expect(KernelIPv6Address.parse(procIfInet6: "").isEmpty)
        #expect(KernelIPv6Address.parse(procIfInet6: String(repeating: "ff ", count: 100)).isEmpty)
        // 32 UTF-8 bytes that are not 32 hex digits (multi-byte characters): skipped, no trap.
        let wide = String(repeating: "é", count: 15) + "00"
        #expect(KernelIPv6Address.parse(procIfInet6: "\(wide) 02 40 00 80 eth0").isEmpty)
        #expect(KernelIPv6Address.parse(procIfInet6: String(repeating: "é", count: 16) + " 02 40 00 80 eth0").isEmpty)
    }
}
