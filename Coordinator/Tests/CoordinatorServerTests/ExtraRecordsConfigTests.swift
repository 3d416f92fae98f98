import CoordinatorServer
import Foundation
import MeshTestSupport
import MeshWire
import Testing

/// `extra_records`: parsed strictly from the config file and handed to nodes in full maps.
@Suite struct ExtraRecordsConfigTests {
    static func parsed(_ text: String) throws -> CoordinatorConfig {
        var c = CoordinatorConfig()
        try c.apply(configText: text, file: "x.toml")
        try c.validate()
        return c
    }

    static func failure(_ text: String) -> String {
        do {
            _ = try parsed(text)
            return "accepted"
        } catch {
            return "\(error)"
        }
    }

    @Test func recordsParse() throws {
        let c = try Self.parsed(#"extra_records = ["db.mesh A 100.64.0.9", "DB.Mesh. aaaa fd7a:115c:a1e0::9", "grafana.corp.internal A 10.1.2.3"]"#)
        #expect(c.extraRecords == [
            DNSExtraRecord(name: "db.mesh", type: "A", value: "100.64.0.9"),
            DNSExtraRecord(name: "db.mesh", type: "AAAA", value: "fd7a:115c:a1e0::9"),
            DNSExtraRecord(name: "grafana.corp.internal", type: "A", value: "10.1.2.3"),
        ])
        #expect(c.extraRecordsForNetmap?.records.count == 3)
        #expect(CoordinatorConfig().extraRecordsForNetmap == nil)
    }

    @Test func mistakesAreRefusedWithLineAndReason() {
        #expect(Self.failure("\n" + #"extra_records = ["db.mesh A"]"#).hasPrefix("x.toml:2: extra_records: \"db.mesh A\" must be \"NAME TYPE ADDRESS\""))
        #expect(Self.failure(#"extra_records = ["db.mesh MX 100.64.0.9"]"#).contains("type must be A or AAAA"))
        #expect(Self.failure(#"extra_records = ["db.mesh A fd7a::9"]"#).contains("is not an IPv4 address"))
        #expect(Self.failure(#"extra_records = ["db.mesh AAAA 100.64.0.9"]"#).contains("is not an IPv6 address"))
        #expect(Self.failure(#"extra_records = ["db..mesh A 100.64.0.9"]"#).contains("is not a DNS name"))
        #expect(Self.failure(#"extra_records = ["db_x.mesh A 100.64.0.9"]"#).contains("is not a DNS name"))
        #expect(Self.failure(#"extra_records = ["db.mesh A 100.64.0.9", "db.mesh A 100.64.0.9"]"#).contains("listed twice"))
        #expect(Self.failure(#"extra_records = "db.mesh A 100.64.0.9""#).contains("must be an array of strings"))
        let many = (0...DNSExtraRecords.maxCount).map { "\"h\($0).mesh A 100.64.0.9\"" }.joined(separator: ", ")
        #expect(Self.failure("extra_records = [\(many)]").contains("at most \(DNSExtraRecords.maxCount)"))
    }

    @Test func fullMapsCarryThemDeltasDoNot() async throws {
        let server = try await TestCoordinator.start("extra") { c in
            c.extraRecords = [DNSExtraRecord(name: "db.mesh", type: "A", value: "100.64.0.9")]
        }
        let token = try await server.authKey(reusable: true)
        let a = TestNode(server: server), b = TestNode(server: server)
        _ = try await a.register(token, hostname: "alpha")
        _ = try await b.register(token, hostname: "beta")
        let full = try await a.map()
        #expect(full.extraRecords == DNSExtraRecords([DNSExtraRecord(name: "db.mesh", type: "A", value: "100.64.0.9")]))
        _ = try await b.endpoints(["198.51.100.7:1234"])
        let delta = try await a.map(since: full.version)
        #expect(delta.kind == .delta && delta.extraRecords == nil)
        try await server.stop()
    }
}
