import MeshDNS
import Testing

@Suite struct ResolvConfRestoreTests {
    let original = Array("nameserver 192.0.2.53\noptions timeout:1\n".utf8)
    let written = Array("# written by meshd (MagicDNS)\nnameserver 100.100.100.100\nsearch mesh\n".utf8)

    @Test func ourFileIsReplacedByTheOriginal() {
        #expect(ResolvConfRestore.decide(original: original, written: written, current: written) == .writeOriginal)
    }

    @Test func eitherWriteOfADomainChangeCounts() {
        // A rewrite for a new domain recorded, then a crash: the file holds the old, the new or part of it.
        let newer = Array("# written by meshd (MagicDNS)\nnameserver 100.100.100.100\nsearch corp.example\n".utf8)
        for current in [written, newer, Array(newer.prefix(40))] {
            #expect(ResolvConfRestore.decide(original: original, written: [written, newer], current: current) == .writeOriginal)
        }
        #expect(ResolvConfRestore.decide(original: original, written: [written, newer], current: Array("x\n".utf8)) == .keepTheirs)
    }

    @Test func anInterruptedWriteOfOursIsFinished() {
        // O_TRUNC then a write cut short: empty, or the first bytes of either file.
        #expect(ResolvConfRestore.decide(original: original, written: written, current: []) == .writeOriginal)
        #expect(ResolvConfRestore.decide(original: original, written: written, current: Array(written.prefix(10))) == .writeOriginal)
        #expect(ResolvConfRestore.decide(original: original, written: written, current: Array(original.prefix(7))) == .writeOriginal)
    }

    @Test func theOriginalAlreadyThereIsLeftAsItIs() {
        #expect(ResolvConfRestore.decide(original: original, written: written, current: original) == .alreadyOriginal)
        // Backup taken, crash before the record of the write: the file was never touched.
        #expect(ResolvConfRestore.decide(original: original, written: nil, current: original) == .alreadyOriginal)
    }

    @Test func someoneElsesFileStays() {
        let theirs = Array("nameserver 198.51.100.53\n".utf8)
        #expect(ResolvConfRestore.decide(original: original, written: written, current: theirs) == .keepTheirs)
        #expect(ResolvConfRestore.decide(original: original, written: written, current: written + [10]) == .keepTheirs)
        #expect(ResolvConfRestore.decide(original: original, written: written, current: nil) == .keepTheirs)
        // Without a record meshd never began a write, so even an empty file is not its doing.
        #expect(ResolvConfRestore.decide(original: original, written: nil, current: []) == .keepTheirs)
        #expect(ResolvConfRestore.decide(original: original, written: nil, current: theirs) == .keepTheirs)
    }
}
