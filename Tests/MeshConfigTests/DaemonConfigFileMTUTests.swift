import MeshConfig
import Testing

@Suite struct DaemonConfigFileMTUTests {
    @Test func mtuKey() throws {
        #expect(DaemonConfigFile.knownKeys.contains("mtu"))
        #expect(try DaemonConfigFile.parse("mtu = 1420", file: "m.toml").mtu == 1420)
        #expect(try DaemonConfigFile.parse("mtu = 1280", file: "m.toml").mtu == 1280)
        #expect(try DaemonConfigFile.parse("mtu = 9000", file: "m.toml").mtu == 9000)
        #expect(try DaemonConfigFile.parse("", file: "m.toml").mtu == nil)
        for bad in ["1279", "9001", "0", "-1", "\"1420\"", "1420.5", "99999999999999999999"] {
            #expect(throws: DaemonConfigFile.Problem.self) { try DaemonConfigFile.parse("mtu = \(bad)", file: "m.toml") }
        }
        do {
            _ = try DaemonConfigFile.parse("\nmtu = 100", file: "m.toml")
            Issue.record("accepted mtu 100")
        } catch {
            #expect("\(error)" == "m.toml:2: mtu must be a whole number 1280-9000")
        }
    }
}
