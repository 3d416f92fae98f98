#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import MeshEngine
import MeshIO
import MeshStatus
import Testing

/// The socket path is taken before the node registers, and never from a meshd that still
/// answers on it.
@Suite struct LocalAPITests {
    func socketPath() -> String {
        NSTemporaryDirectory() + "mesh-api-\(UUID().uuidString.prefix(8))/meshd.sock"
    }

    @Test func aLiveSocketIsNotTakenOver() throws {
        let path = socketPath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let first = LocalAPI(socketPath: path, logger: Logger(label: "test"))
        try first.claim()
        let second = LocalAPI(socketPath: path, logger: Logger(label: "test"))
        #expect(throws: LocalAPIError(error: "another meshd answers on \(path); stop it first, or give this one another --socket")) {
            try second.claim()
        }
        // The refusal left the first one's socket in place and answering.
        #expect(UnixSocketProbe.probe(path) == .answering)
        first.stop()
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func aStaleSocketIsReplaced() throws {
        let path = socketPath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let crashed = LocalAPI(socketPath: path, logger: Logger(label: "test"))
        try crashed.claim()
        // What a killed meshd leaves: the file, with nobody listening.
        let saved = path + ".kept"
        #expect(link(path, saved) == 0)
        crashed.stop()
        #expect(rename(saved, path) == 0)
        #expect(UnixSocketProbe.probe(path) == .stale)
        let next = LocalAPI(socketPath: path, logger: Logger(label: "test"))
        try next.claim()
        #expect(UnixSocketProbe.probe(path) == .answering)
        next.stop()
    }

    @Test func aFileThatIsNotASocketIsLeftAlone() throws {
        let path = socketPath()
        let dir = (path as NSString).deletingLastPathComponent
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: path))
        let api = LocalAPI(socketPath: path, logger: Logger(label: "test"))
        #expect(throws: LocalAPIError(error: "\(path) exists and is not a socket; remove it or choose another --socket")) {
            try api.claim()
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "keep")
    }
}
