import MeshConfig
import Testing

@Suite struct DaemonConfigFileResolvConfTests {
    @Test func manageResolvConfIsABoolean() throws {
        #expect(try DaemonConfigFile.parse("manage_resolv_conf = true\n", file: "f").manageResolvConf == true)
        #expect(try DaemonConfigFile.parse("manage_resolv_conf = false\n", file: "f").manageResolvConf == false)
        #expect(try DaemonConfigFile.parse("", file: "f").manageResolvConf == nil)
        #expect(DaemonConfigFile.knownKeys.contains("manage_resolv_conf"))
        do {
            _ = try DaemonConfigFile.parse("manage_resolv_conf = \"yes\"\n", file: "f")
            Issue.record("a string was taken for a boolean")
        } catch {
            #expect("\(error)" == "f:1: manage_resolv_conf must be true or false")
        }
    }
}
