import MeshDNS
import Testing

@Suite struct ResolvConfTakeoverTests {
    @Test func managedFileAndTheOriginalsResolvers() {
        let current = Array("# lab\nnameserver 203.0.113.53\nnameserver 2001:db8::53\nsearch lab.test\noptions timeout:1 attempts:2\n".utf8)
        let plan = ResolvConfTakeover.plan(current: current, dnsAddress: "100.100.100.100", domain: "mesh")
        let managed = "# written by meshd (MagicDNS); the original is restored when meshd stops\nnameserver 100.100.100.100\nsearch mesh lab.test\noptions timeout:1 attempts:2\n"
        guard case .manage(let bytes, let upstreams) = plan else {
            Issue.record("refused: \(plan)")
            return
        }
        #expect(String(decoding: bytes, as: UTF8.self) == managed)
        #expect(upstreams.nameservers == ["203.0.113.53", "2001:db8::53"])
        #expect(upstreams.original.search == ["lab.test"])
    }

    @Test func refusesWhatItCannotGiveBackOrAlreadyWrote() {
        let big = [UInt8](repeating: 0x23, count: ResolvConfTakeover.byteLimit + 1)
        #expect(isRefusal(ResolvConfTakeover.plan(current: big, dnsAddress: "100.100.100.100", domain: "mesh")))
        #expect(isRefusal(ResolvConfTakeover.plan(current: [0x6E, 0xFF, 0xFE], dnsAddress: "100.100.100.100", domain: "mesh")))
        let ours = ResolvConf.managed(dnsAddress: "100.100.100.100", domain: "mesh", original: ResolvConf())
        #expect(isRefusal(ResolvConfTakeover.plan(current: Array(ours.utf8), dnsAddress: "100.100.100.100", domain: "mesh")))
    }

    @Test func anEmptyFileMeansTheLocalResolver() {
        guard case .manage(_, let upstreams) = ResolvConfTakeover.plan(current: [], dnsAddress: "100.100.100.100", domain: "mesh") else {
            Issue.record("an empty resolv.conf is a valid one")
            return
        }
        #expect(upstreams.nameservers == ["127.0.0.1"])
    }

    func isRefusal(_ plan: ResolvConfTakeover.Plan) -> Bool {
        if case .refuse = plan { return true }
        return false
    }
}
