#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MeshNode
import Testing

/// flock locks belong to an open file description, so a second lock taken in this same
/// process conflicts exactly as a second meshd's would.
@Suite struct StateDirectoryLockTests {
    @Test func oneHolderAtATimeAndTheRefusalNamesIt() throws {
        let dir = StateDirectory(path: NSTemporaryDirectory() + "mesh-lock-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: dir.path) }
        var first: StateDirectoryLock? = try StateDirectoryLock(directory: dir)
        let pid = try String(contentsOfFile: first!.path, encoding: .utf8)
        #expect(pid == "\(getpid())\n")
        do {
            _ = try StateDirectoryLock(directory: dir)
            Issue.record("a second lock was granted")
        } catch {
            #expect("\(error)" == "another meshd (pid \(getpid())) is running with the state directory \(dir.path); stop it first, or give this one another --state-dir")
        }
        // Released with its holder (a crashed meshd's lock goes with its process).
        first = nil
        let again = try StateDirectoryLock(directory: dir)
        #expect(FileManager.default.fileExists(atPath: again.path))
        _ = first
    }
}
