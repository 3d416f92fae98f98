import Foundation
import MeshLocalAPI
import Testing

@Suite struct StateChangeReplyTests {
    @Test func theSchemaIsStable() throws {
        let json = String(decoding: try JSONEncoder().encode(StateChangeReply(state: .loggedOut, changed: true)), as: UTF8.self)
        #expect(json.contains("\"state\":\"loggedOut\"") && json.contains("\"changed\":true"))
        #expect(StateChangeReply(state: .down, changed: false).sentence == "the tunnel was already down")
    }
}
