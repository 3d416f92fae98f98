import MeshWire
import Testing

@Suite struct HTTPSProxyTests {
    @Test func urlsAsCurlTakesThem() throws {
        let p = try HTTPSProxy(url: "http://proxy.lab.test:3128")
        #expect(p.host == "proxy.lab.test" && p.port == 3128 && p.description == "http://proxy.lab.test:3128")
        let bare = try HTTPSProxy(url: "198.51.100.7")
        #expect(bare.host == "198.51.100.7" && bare.port == HTTPSProxy.defaultPort)
        let v6 = try HTTPSProxy(url: "http://[2001:db8::7]:8080/")
        #expect(v6.host == "2001:db8::7" && v6.port == 8080 && v6.description == "http://[2001:db8::7]:8080")
        #expect(throws: (any Error).self) { try HTTPSProxy(url: "https://proxy.lab.test:3128") }
        #expect(throws: (any Error).self) { try HTTPSProxy(url: "http://proxy.lab.test:99999") }
        #expect(throws: (any Error).self) { try HTTPSProxy(url: "http://proxy.lab.test:3128/path") }
        #expect(throws: (any Error).self) { try HTTPSProxy(url: "http://") }
    }

    @Test func credentialsGoOnlyIntoTheConnectRequest() throws {
        let p = try HTTPSProxy(url: "http://alice:s%3Acret@proxy.lab.test:3128")
        #expect(!p.description.contains("alice") && !p.description.contains("cret"))
        let request = String(decoding: p.connectRequest(host: "coord.lab.test", port: 443), as: UTF8.self)
        // base64("alice:s:cret")
        #expect(request == "CONNECT coord.lab.test:443 HTTP/1.1\r\nHost: coord.lab.test:443\r\nProxy-Authorization: Basic YWxpY2U6czpjcmV0\r\n\r\n")
        let plain = try HTTPSProxy(url: "proxy.lab.test:3128")
        #expect(String(decoding: plain.connectRequest(host: "2001:db8::1", port: 443), as: UTF8.self)
            == "CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n")
    }

    @Test func environmentAndBypass() throws {
        #expect(try HTTPSProxy.fromEnvironment([:]) == nil)
        #expect(try HTTPSProxy.fromEnvironment(["HTTPS_PROXY": ""]) == nil)
        let p = try #require(try HTTPSProxy.fromEnvironment(["https_proxy": "proxy.lab.test:3128",
                                                              "NO_PROXY": "internal.test, .corp.test"]))
        #expect(p.applies(to: "coord.lab.test"))
        #expect(!p.applies(to: "internal.test") && !p.applies(to: "relay.internal.test"))
        #expect(!p.applies(to: "corp.test") && !p.applies(to: "a.corp.test"))
        #expect(p.applies(to: "notinternal.test"))
        let all = try #require(try HTTPSProxy.fromEnvironment(["HTTPS_PROXY": "proxy.lab.test:3128", "no_proxy": "*"]))
        #expect(!all.applies(to: "coord.lab.test"))
        // HTTPS_PROXY wins over https_proxy, as curl reads them.
        let both = try #require(try HTTPSProxy.fromEnvironment(["HTTPS_PROXY": "a.test:1", "https_proxy": "b.test:2"]))
        #expect(both.host == "a.test")
    }
}
