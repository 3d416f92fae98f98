import Foundation
import Logging
import MeshDNS
import MeshNode
import Synchronization
import Testing

@Suite struct HostDNSTests {
    let original = "nameserver 203.0.113.53\noptions timeout:1\n"

    func setUp() throws -> (root: String, manager: ResolvConfManager) {
        let root = NSTemporaryDirectory() + "mesh-hostdns-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try Data(original.utf8).write(to: URL(fileURLWithPath: root + "/resolv.conf"))
        let manager = ResolvConfManager(stateDirectory: StateDirectory(path: root + "/state"), dnsAddress: "100.100.100.100",
                                        path: root + "/resolv.conf", logger: Logger(label: "hostdns-test"))
        return (root, manager)
    }

    @Test func resolvConfModeHandsTheOriginalsServersToTheForwarder() throws {
        let (root, manager) = try setUp()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let dns = HostDNS(mode: .resolvConf, interface: "mesh0", resolvConf: manager, logger: Logger(label: "hostdns-test"))
        let seen = Mutex<[[String]]>([])
        dns.onResolvers = { r in seen.withLock { $0.append(r.nameservers) } }
        dns.apply(domain: "mesh")
        #expect(try String(contentsOfFile: root + "/resolv.conf", encoding: .utf8).contains("nameserver 100.100.100.100\n"))
        // The file now names MagicDNS; the forwarder still gets the original's server.
        #expect(dns.currentResolvers().nameservers == [])
        dns.apply(domain: "mesh")
        #expect(seen.withLock { $0 } == [["203.0.113.53"], ["203.0.113.53"]])
        // The netmap's domain changes: the managed file follows; after remove it no longer does.
        dns.follow(domain: "corp.example")
        #expect(try String(contentsOfFile: root + "/resolv.conf", encoding: .utf8).contains("search corp.example\n"))
        dns.remove()
        dns.remove()
        #expect(try String(contentsOfFile: root + "/resolv.conf", encoding: .utf8) == original)
        dns.follow(domain: "mesh")
        #expect(try String(contentsOfFile: root + "/resolv.conf", encoding: .utf8) == original)
    }

    @Test func withoutTheOptInTheFileIsLeftAlone() throws {
        let (root, manager) = try setUp()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let dns = HostDNS(mode: .none(reason: "test"), interface: "mesh0", resolvConf: manager, logger: Logger(label: "hostdns-test"))
        #expect(dns.apply(domain: "mesh").nameservers == ["203.0.113.53"])
        dns.remove()
        #expect(try String(contentsOfFile: root + "/resolv.conf", encoding: .utf8) == original)
        #expect(!FileManager.default.fileExists(atPath: root + "/state/resolv.conf.original"))
    }
}
