import MeshBase
import MeshDNS
import Testing

/// Byte vectors written out by hand from RFC 1035/3596/6891 (what `dig` sends: RD and AD set,
/// EDNS0 with a 1232-byte payload and a cookie option).
@Suite struct MagicDNSResponderTests {
    static let table = MagicDNSTable(domain: "mesh", entries: [
        .init(name: "a", ipv4: try! IPAddress("100.64.0.1"), ipv6: try! IPAddress("fd7a:115c:a1e0::1")),
        .init(name: "b", ipv4: try! IPAddress("100.64.0.2"), ipv6: try! IPAddress("fd7a:115c:a1e0::2")),
    ], overlayPrefixes: [try! IPPrefix("100.64.0.0/10"), try! IPPrefix("fd7a:115c:a1e0::/48")])
    let responder = MagicDNSResponder(table: table)

    static func query(_ name: [UInt8], type: UInt16, id: UInt16 = 0x1234, edns: Bool = true, flags: UInt16 = 0x0120) -> [UInt8] {
        var q: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), UInt8(flags >> 8), UInt8(flags & 0xFF), 0, 1, 0, 0, 0, 0, 0, edns ? 1 : 0]
        q += name + [UInt8(type >> 8), UInt8(type & 0xFF), 0, 1]
        if edns { q += [0, 0, 0x29, 0x04, 0xD0, 0, 0, 0, 0, 0, 12, 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8] }
        return q
    }
    static let bMesh: [UInt8] = [1, 0x62, 4, 0x6D, 0x65, 0x73, 0x68, 0]
    static let optAnswer: [UInt8] = [0, 0, 0x29, 0x04, 0xD0, 0, 0, 0, 0, 0, 0]

    @Test func answersA() {
        let answer = responder.respond(to: Self.query(Self.bMesh, type: 1), overTCP: false)
        let expected: [UInt8] = [0x12, 0x34, 0x85, 0x80, 0, 1, 0, 1, 0, 0, 0, 1] + Self.bMesh + [0, 1, 0, 1]
            + [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 100, 64, 0, 2] + Self.optAnswer
        #expect(answer == .answer(expected))
    }

    /// The bytes dig 9.18 (Debian 12) sent for `dig @127.0.0.1 -p 5399 b.mesh`, captured with a
    /// Python UDP socket; dig printed `b.mesh. 1 IN A 100.64.0.2` for the answer `answersA` expects.
    @Test func digsQuery() {
        let dig: [UInt8] = [0x50, 0x55, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x62, 0x04, 0x6D, 0x65, 0x73, 0x68, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x29, 0x04, 0xD0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x00, 0x0A, 0x00, 0x08, 0x3C, 0xF8, 0x4A, 0x80, 0xA8, 0x65, 0x26, 0x29]
        let answer = responder.respond(to: dig, overTCP: false)
        let expected: [UInt8] = [0x50, 0x55, 0x85, 0x80, 0, 1, 0, 1, 0, 0, 0, 1] + Self.bMesh + [0, 1, 0, 1]
            + [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 100, 64, 0, 2] + Self.optAnswer
        #expect(answer == .answer(expected))
    }

    @Test func answersAAAAWithoutEDNSAndKeepsTheQuestionsCase() {
        let upper: [UInt8] = [1, 0x42, 4, 0x4D, 0x45, 0x53, 0x48, 0]  // "B.MESH"
        let answer = responder.respond(to: Self.query(upper, type: 28, edns: false, flags: 0), overTCP: true)
        let expected: [UInt8] = [0x12, 0x34, 0x84, 0x80, 0, 1, 0, 1, 0, 0, 0, 0] + upper + [0, 28, 0, 1]
            + [0xC0, 0x0C, 0, 28, 0, 1, 0, 0, 0, 1, 0, 16, 0xFD, 0x7A, 0x11, 0x5C, 0xA1, 0xE0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]
        #expect(answer == .answer(expected))
    }

    @Test func unknownNameUnderTheDomainIsNXDomainAndTheApexIsNoData() {
        let zz: [UInt8] = [2, 0x7A, 0x7A, 4, 0x6D, 0x65, 0x73, 0x68, 0]
        #expect(responder.respond(to: Self.query(zz, type: 1), overTCP: false)
            == .answer([0x12, 0x34, 0x85, 0x83, 0, 1, 0, 0, 0, 0, 0, 1] + zz + [0, 1, 0, 1] + Self.optAnswer))
        // Deeper names under a node are not nodes either.
        let deep: [UInt8] = [1, 0x78] + Self.bMesh
        guard case .answer(let d) = responder.respond(to: Self.query(deep, type: 1), overTCP: false) else { Issue.record(); return }
        #expect(d[3] & 0x0F == 3)
        let apex: [UInt8] = [4, 0x6D, 0x65, 0x73, 0x68, 0]
        guard case .answer(let a) = responder.respond(to: Self.query(apex, type: 1), overTCP: false) else { Issue.record(); return }
        #expect(a[3] & 0x0F == 0 && a[6] == 0 && a[7] == 0)
        // A type the node does not have: NOERROR, no records.
        guard case .answer(let mx) = responder.respond(to: Self.query(Self.bMesh, type: 15), overTCP: false) else { Issue.record(); return }
        #expect(mx[3] & 0x0F == 0 && mx[7] == 0)
    }

    @Test func ptrForOverlayAddresses() throws {
        let v4 = ReverseName.name(of: try IPAddress("100.64.0.2"))
        #expect(v4.description == "2.0.64.100.in-addr.arpa.")
        #expect(ReverseName.address(of: v4) == (try IPAddress("100.64.0.2")))
        let expected: [UInt8] = [0x12, 0x34, 0x85, 0x80, 0, 1, 0, 1, 0, 0, 0, 1] + v4.wire + [0, 12, 0, 1]
            + [0xC0, 0x0C, 0, 12, 0, 1, 0, 0, 0, 1, 0, 8] + Self.bMesh + Self.optAnswer
        #expect(responder.respond(to: Self.query(v4.wire, type: 12), overTCP: false) == .answer(expected))
        let v6 = ReverseName.name(of: try IPAddress("fd7a:115c:a1e0::1"))
        #expect(v6.description.hasPrefix("1.0.0.0.0.0.0.0.") && v6.description.hasSuffix(".0.e.1.a.c.5.1.1.a.7.d.f.ip6.arpa."))
        guard case .answer(let a6) = responder.respond(to: Self.query(v6.wire, type: 12), overTCP: false) else { Issue.record(); return }
        #expect(Array(a6.suffix(Self.optAnswer.count + 8)) == [1, 0x61, 4, 0x6D, 0x65, 0x73, 0x68, 0] + Self.optAnswer)
        // In the overlay but nobody's: NXDOMAIN. Outside the overlay, or a partial name: forwarded.
        let unknown = ReverseName.name(of: try IPAddress("100.64.0.9"))
        guard case .answer(let nx) = responder.respond(to: Self.query(unknown.wire, type: 12), overTCP: false) else { Issue.record(); return }
        #expect(nx[3] & 0x0F == 3)
        let outside = ReverseName.name(of: try IPAddress("192.0.2.1"))
        if case .forward = responder.respond(to: Self.query(outside.wire, type: 12), overTCP: false) {} else { Issue.record() }
        let partial = DNSName("64.100.in-addr.arpa")!
        if case .forward = responder.respond(to: Self.query(partial.wire, type: 12), overTCP: false) {} else { Issue.record() }
        #expect(ReverseName.address(of: DNSName("01.0.64.100.in-addr.arpa")!) == nil)
        #expect(ReverseName.address(of: DNSName("256.0.64.100.in-addr.arpa")!) == nil)
    }

    @Test func everythingElseIsForwarded() {
        let coord = DNSName("coord.lab.test")!.wire
        guard case .forward(let q) = responder.respond(to: Self.query(coord, type: 1, id: 7), overTCP: false) else {
            Issue.record(); return
        }
        #expect(q.id == 7 && q.name.description == "coord.lab.test." && q.edns?.udpPayloadSize == 1232)
        // "mesh" as a label somewhere else is not the domain.
        if case .forward = responder.respond(to: Self.query(DNSName("mesh.example")!.wire, type: 1), overTCP: false) {} else { Issue.record() }
    }

    @Test func brokenQueriesGetFormErrAndResponsesAreDropped() {
        #expect(responder.respond(to: [1, 2, 3], overTCP: false) == .drop)
        var response = Self.query(Self.bMesh, type: 1)
        response[2] |= 0x80
        #expect(responder.respond(to: response, overTCP: false) == .drop)
        let cut = Array(Self.query(Self.bMesh, type: 1, edns: false).dropLast(2))
        #expect(responder.respond(to: cut, overTCP: false) == .answer([0x12, 0x34, 0x81, 0x81, 0, 0, 0, 0, 0, 0, 0, 0]))
        var two = Self.query(Self.bMesh, type: 1, edns: false)
        two[5] = 2
        #expect(responder.respond(to: two, overTCP: false) == .answer([0x12, 0x34, 0x81, 0x81, 0, 0, 0, 0, 0, 0, 0, 0]))
        // A question name that points at itself.
        let loop: [UInt8] = [0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 0x0C, 0, 1, 0, 1]
        #expect(responder.respond(to: loop, overTCP: false) == .answer([0, 1, 0x81, 0x81, 0, 0, 0, 0, 0, 0, 0, 0]))
        // Opcode 2 (STATUS): not implemented.
        let status = Self.query(Self.bMesh, type: 1, edns: false, flags: 0x1000)
        #expect(responder.respond(to: status, overTCP: false) == .answer([0x12, 0x34, 0x90, 0x84, 0, 0, 0, 0, 0, 0, 0, 0]))
    }

    @Test func ednsVersionAndDOBit() {
        var v1 = Self.query(Self.bMesh, type: 1)
        v1[v1.count - 17] = 1  // OPT TTL's version byte
        guard case .answer(let bad) = responder.respond(to: v1, overTCP: false) else { Issue.record(); return }
        // BADVERS = 16: 0 in the header, 1 in the OPT's extended rcode; no answers.
        #expect(bad[3] & 0x0F == 0 && bad[7] == 0 && Array(bad.suffix(11)) == [0, 0, 0x29, 0x04, 0xD0, 1, 0, 0, 0, 0, 0])
        var dnssec = Self.query(Self.bMesh, type: 1)
        dnssec[dnssec.count - 16] = 0x80
        guard case .answer(let d) = responder.respond(to: dnssec, overTCP: false) else { Issue.record(); return }
        #expect(Array(d.suffix(11)) == [0, 0, 0x29, 0x04, 0xD0, 0, 0, 0x80, 0, 0, 0])
    }
}

@Suite struct MagicDNSExtraRecordTests {
    static let table = MagicDNSTable(domain: "mesh", entries: [
        .init(name: "b", ipv4: try! IPAddress("100.64.0.2"), ipv6: nil),
    ], overlayPrefixes: [try! IPPrefix("100.64.0.0/10")], extraRecords: [
        .init(name: DNSName("db.mesh")!, address: try! IPAddress("100.64.0.9")),
        .init(name: DNSName("DB.mesh")!, address: try! IPAddress("fd7a:115c:a1e0::9")),
        .init(name: DNSName("grafana.example.internal")!, address: try! IPAddress("10.1.2.3")),
        // A node's own name cannot be taken over.
        .init(name: DNSName("b.mesh")!, address: try! IPAddress("192.0.2.66")),
    ])
    let responder = MagicDNSResponder(table: table)

    func answer(_ name: String, _ type: UInt16) -> [UInt8]? {
        let q = MagicDNSResponderTests.query(DNSName(name)!.wire, type: type, edns: false, flags: 0x0100)
        if case .answer(let a) = responder.respond(to: q, overTCP: false) { return a }
        return nil
    }

    @Test func extraRecordsAnswerAAndAAAA() throws {
        let a = try #require(answer("db.mesh", 1))
        #expect(a[3] & 0x0F == 0 && a[7] == 1)
        #expect(Array(a.suffix(4)) == [100, 64, 0, 9])
        let aaaa = try #require(answer("Db.Mesh", 28))
        let nine = try IPAddress("fd7a:115c:a1e0::9").networkBytes
        #expect(aaaa[7] == 1 && Array(aaaa.suffix(16)) == nine)
        let any = try #require(answer("db.mesh", 255))
        #expect(any[7] == 2)
        let outside = try #require(answer("grafana.example.internal", 1))
        #expect(Array(outside.suffix(4)) == [10, 1, 2, 3])
        // A type it has none of: NOERROR, no records (not NXDOMAIN).
        let none = try #require(answer("grafana.example.internal", 28))
        #expect(none[3] & 0x0F == 0 && none[7] == 0)
        let node = try #require(answer("b.mesh", 1))
        #expect(node[7] == 1 && Array(node.suffix(4)) == [100, 64, 0, 2])
        #expect(Self.table.extraNameCount == 2)
        // Other names outside the domain still go to the host's resolvers.
        let q = MagicDNSResponderTests.query(DNSName("example.internal")!.wire, type: 1)
        guard case .forward = responder.respond(to: q, overTCP: false) else { Issue.record("not forwarded"); return }
    }
}
