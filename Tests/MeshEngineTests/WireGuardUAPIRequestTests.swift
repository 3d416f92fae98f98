import MeshEngine
import Testing

@Suite struct WireGuardUAPIRequestTests {
    func read(_ text: String, chunk: Int = 1) -> WireGuardUAPIRequest.Operation? {
        var r = WireGuardUAPIRequest()
        let bytes = Array(text.utf8)
        var result: WireGuardUAPIRequest.Operation?
        var i = 0
        while i < bytes.count {
            result = r.consume(bytes[i..<min(i + chunk, bytes.count)])
            i += chunk
        }
        return result
    }

    @Test func getIsOneLineAndAnEmptyOne() {
        #expect(read("get=1\n\n") == .get)
        #expect(read("get=1\n\n", chunk: 100) == .get)
        #expect(read("get=1\n") == nil)
        #expect(read("get=1\nx") == .invalid)
    }

    @Test func setIsDrainedToItsEmptyLineAndRefused() {
        #expect(read("set=1\nprivate_key=00\nlisten_port=1\n\n") == .set)
        #expect(read("set=1\n\n") == .set)
        #expect(read("set=1\nlisten_port=1\n") == nil)
        #expect(WireGuardUAPIRequest.setRefusal == "errno=-1\n\n")
    }

    @Test func anythingElseIsInvalidEarly() {
        #expect(read("status\n") == .invalid)
        #expect(read("get=10000000000") == .invalid)
        #expect(read("\n") == .invalid)
    }

    @Test func anEndlessSetIsCutOff() {
        var r = WireGuardUAPIRequest()
        #expect(r.consume(Array("set=1\n".utf8)) == nil)
        let line = [UInt8](repeating: UInt8(ascii: "a"), count: 4096)
        var result: WireGuardUAPIRequest.Operation?
        for _ in 0..<(WireGuardUAPIRequest.maxSetBytes / 4096 + 2) { result = r.consume(line) }
        #expect(result == .invalid)
        #expect(r.consume(Array("\n\n".utf8)) == .invalid)
    }
}
