import Testing
import WireGuard

@Suite struct UDPAddressTests {
    @Test func fromAddressBytesOfEitherFamily() throws {
        let v4 = try #require(UDPAddress(addressBytes: [203, 0, 113, 7], port: 41641))
        #expect(v4 == UDPAddress(ipv4: 203, 0, 113, 7, port: 41641) && v4.isIPv4)
        #expect(v4.addressBytes == [203, 0, 113, 7])
        let bytes: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1]
        let v6 = try #require(UDPAddress(addressBytes: bytes, port: 443))
        #expect(!v6.isIPv4 && v6.addressBytes == bytes && v6.description == "[2001:db8::1]:443")
        // RFC 5952 text: the longest zero run compressed, lower case.
        let spaced = try #require(UDPAddress(addressBytes: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xAB, 0xCD], port: 1))
        #expect(spaced.description == "[2001:db8::1:0:0:abcd]:1")
        for n in [0, 3, 5, 15, 17] { #expect(UDPAddress(addressBytes: [UInt8](repeating: 1, count: n), port: 1) == nil) }
    }
}
