#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import MeshDNS
import MeshNode
import Testing

/// The driver against files in a temporary directory: the same inode rewritten, the original
/// back byte for byte, a crashed run's backup restored by the next one, someone else's file kept.
@Suite struct ResolvConfManagerTests {
    let original = Array("# host's own\nnameserver 203.0.113.53\nsearch lab.test\noptions timeout:1 attempts:2\n".utf8)

    struct Files {
        let root: String
        var resolvConf: String { root + "/resolv.conf" }
        var state: StateDirectory { StateDirectory(path: root + "/state") }
        func manager() -> ResolvConfManager {
            ResolvConfManager(stateDirectory: state, dnsAddress: "100.100.100.100", path: resolvConf,
                              logger: Logger(label: "resolv-test"))
        }
        func contents() -> [UInt8]? { FileManager.default.contents(atPath: resolvConf).map { Array($0) } }
        func inode() -> UInt64 {
            var st = stat()
            return stat(resolvConf, &st) == 0 ? UInt64(st.st_ino) : 0
        }
        func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: state.path + "/" + name) }
    }

    func files() throws -> Files {
        let f = Files(root: NSTemporaryDirectory() + "mesh-resolv-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: f.root, withIntermediateDirectories: true)
        try Data(original).write(to: URL(fileURLWithPath: f.resolvConf))
        return f
    }

    @Test func managesInPlaceAndGivesTheOriginalBack() throws {
        let f = try files()
        defer { try? FileManager.default.removeItem(atPath: f.root) }
        let inode = f.inode()
        let m = f.manager()
        let upstreams = m.manage(domain: "mesh")
        #expect(upstreams?.nameservers == ["203.0.113.53"])
        let text = String(decoding: f.contents() ?? [], as: UTF8.self)
        #expect(text.contains("nameserver 100.100.100.100\nsearch mesh lab.test\noptions timeout:1 attempts:2\n"))
        #expect(f.inode() == inode)
        #expect(FileManager.default.contents(atPath: f.state.path + "/resolv.conf.original").map(Array.init) == original)
        // Asked again (meshctl up twice): the upstreams are still the original's.
        #expect(m.manage(domain: "mesh") == upstreams)
        m.release()
        #expect(f.contents() == original)
        #expect(f.inode() == inode)
        #expect(!f.exists("resolv.conf.original") && !f.exists("resolv.conf.managed"))
        #expect(!m.isManaging)
    }

    @Test func aNewDomainRewritesTheManagedFile() throws {
        let f = try files()
        defer { try? FileManager.default.removeItem(atPath: f.root) }
        let m = f.manager()
        #expect(m.manage(domain: "mesh") != nil)
        #expect(m.manage(domain: "corp.example")?.nameservers == ["203.0.113.53"])
        let text = String(decoding: f.contents() ?? [], as: UTF8.self)
        #expect(text.contains("search corp.example lab.test\n"))
        m.release()
        #expect(f.contents() == original)
    }

    @Test func theNextStartRestoresWhatACrashLeft() throws {
        let f = try files()
        defer { try? FileManager.default.removeItem(atPath: f.root) }
        let crashed = f.manager()
        #expect(crashed.manage(domain: "mesh") != nil)
        // No release: the process was killed. The next one finds the backup.
        let next = f.manager()
        #expect(next.recoverAfterCrash())
        #expect(f.contents() == original)
        #expect(!f.exists("resolv.conf.original"))
        #expect(!next.recoverAfterCrash())
        // ... and takes the file over again from the restored original.
        #expect(next.manage(domain: "mesh")?.nameservers == ["203.0.113.53"])
        next.release()
        #expect(f.contents() == original)
    }

    @Test func aWriteCutShortIsFinishedAtTheNextStart() throws {
        let f = try files()
        defer { try? FileManager.default.removeItem(atPath: f.root) }
        #expect(f.manager().manage(domain: "mesh") != nil)
        truncate(f.resolvConf, 7)
        #expect(f.manager().recoverAfterCrash())
        #expect(f.contents() == original)
    }

    @Test func someoneElsesRewriteIsNotClobbered() throws {
        let f = try files()
        defer { try? FileManager.default.removeItem(atPath: f.root) }
        let m = f.manager()
        #expect(m.manage(domain: "mesh") != nil)
        let theirs = Array("nameserver 198.51.100.53\n".utf8)
        try Data(theirs).write(to: URL(fileURLWithPath: f.resolvConf))
        m.release()
        #expect(f.contents() == theirs)
        #expect(FileManager.default.contents(atPath: f.state.path + "/resolv.conf.original.superseded").map(Array.init) == original)
        #expect(!f.exists("resolv.conf.original"))
    }

    @Test func aFileItWroteItselfIsNotBackedUp() throws {
        let f = try files()
        defer { try? FileManager.default.removeItem(atPath: f.root) }
        #expect(f.manager().manage(domain: "mesh") != nil)
        // The state directory lost (the backup with it): the next run must not take its own file for the host's.
        try FileManager.default.removeItem(atPath: f.state.path)
        let managedBytes = f.contents()
        #expect(f.manager().manage(domain: "mesh") == nil)
        #expect(f.contents() == managedBytes)
    }
}
