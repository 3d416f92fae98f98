import MeshLocalAPI
import Testing

@Suite struct LocalAPIAccessTests {
    @Test func readersMayReadButNotChange() {
        #expect(LocalAPIAccess.allows(.status, peerUID: 1000, daemonUID: 0))
        #expect(LocalAPIAccess.allows(.ping(peer: "b", timeoutMilliseconds: 500), peerUID: 1000, daemonUID: 0))
        #expect(!LocalAPIAccess.allows(.down, peerUID: 1000, daemonUID: 0))
        #expect(!LocalAPIAccess.allows(.logout, peerUID: nil, daemonUID: 0))
    }

    @Test func rootAndTheDaemonsOwnUserMayChange() {
        #expect(LocalAPIAccess.allows(.down, peerUID: 0, daemonUID: 0))
        #expect(LocalAPIAccess.allows(.up, peerUID: 998, daemonUID: 998))
    }

    @Test func theRefusalNamesTheCommandAndTheCaller() {
        #expect(LocalAPIAccess.refusal(.down, peerUID: 1000)
                == "'meshctl down' changes the node's state and needs root (the request came from uid 1000)")
    }
}
