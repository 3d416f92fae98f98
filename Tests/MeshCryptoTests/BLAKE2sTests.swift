import Foundation
import MeshCrypto
import Testing

@Suite struct BLAKE2sTests {
    @Test func rfc7693AppendixB() {
        #expect(hex(BLAKE2s.hash(Array("abc".utf8)))
                == "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982")
    }

    /// RFC 7693 Appendix E: a hash over many digests covering keyed/unkeyed, partial and
    /// multi-block inputs and truncated outputs.
    @Test func rfc7693AppendixESelfTest() {
        func sequence(_ length: Int, seed: UInt32) -> [UInt8] {
            var a: UInt32 = 0xDEAD_4BAD &* seed, b: UInt32 = 1
            return (0..<length).map { _ in
                let t = a &+ b
                a = b
                b = t
                return UInt8(truncatingIfNeeded: t >> 24)
            }
        }
        var grand = BLAKE2s(outputLength: 32)
        for outputLength in [16, 20, 28, 32] {
            for inputLength in [0, 3, 64, 65, 255, 1024] {
                let input = sequence(inputLength, seed: UInt32(inputLength))
                grand.update(BLAKE2s.hash(input, outputLength: outputLength))
                let key = sequence(outputLength, seed: UInt32(outputLength))
                grand.update(BLAKE2s.hash(input, key: key, outputLength: outputLength))
            }
        }
        #expect(hex(grand.finalize()).uppercased()
                == "6A411F08CE25ADCDFB02ABA641451CEC53C598B24F4FC787FBDC88797F4C1DFE")
    }

    /// First and last entries of the reference blake2s-kat.txt (key 00..1f, input 00..len-1).
    @Test func officialKeyedKAT() {
        let key = [UInt8](0..<32)
        #expect(hex(BLAKE2s.hash([], key: key))
                == "48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49")
        #expect(hex(BLAKE2s.hash([UInt8](0..<255), key: key))
                == "3fb735061abc519dfe979e54c1ee5bfad0a9d858b3315bad34bde999efd724dd")
    }

    /// The handshake's initial chaining key and hash, as every WireGuard implementation has them.
    @Test func wireGuardConstruction() {
        let chainingKey = BLAKE2s.hash(Array("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s".utf8))
        #expect(hex(chainingKey) == "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36")
        let hash = BLAKE2s.hash(chainingKey + Array("WireGuard v1 zx2c4 Jason@zx2c4.com".utf8))
        #expect(hex(hash) == "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3")
    }

    @Test func streamingEqualsOneShot() {
        var rng = SeededRNG(seed: 7)
        for _ in 0..<300 {
            let data = randomBytes(Int.random(in: 0...700, using: &rng), using: &rng)
            let key = randomBytes(Int.random(in: 0...32, using: &rng), using: &rng)
            let outputLength = Int.random(in: 1...32, using: &rng)
            var hasher = BLAKE2s(outputLength: outputLength, key: key)
            var offset = 0
            while offset < data.count {
                // Includes empty updates and chunks straddling block boundaries.
                let n = min(data.count - offset, Int.random(in: 0...150, using: &rng))
                data[offset..<offset + n].withUnsafeBytes { hasher.update($0) }
                offset += n
            }
            #expect(hasher.finalize() == BLAKE2s.hash(data, key: key, outputLength: outputLength))
        }
    }

    @Test func outputLengthIsRespected() {
        for n in 1...32 {
            #expect(BLAKE2s.hash([1, 2, 3], outputLength: n).count == n)
        }
        // The digest length is a parameter of the hash, not a truncation.
        #expect(BLAKE2s.hash([], outputLength: 16) != Array(BLAKE2s.hash([]).prefix(16)))
    }

    @Test func matchesPythonHashlib() throws {
        var rng = SeededRNG(seed: 0xB1A4_E25)
        var cases: [(data: [UInt8], key: [UInt8], outputLength: Int)] = []
        for i in 0..<1200 {
            let keyLength = i % 10 == 0 ? 0 : Int.random(in: 0...32, using: &rng)
            let dataLength = i % 10 == 1 ? 0 : Int.random(in: 0...2000, using: &rng)
            cases.append((randomBytes(dataLength, using: &rng),
                          randomBytes(keyLength, using: &rng),
                          Int.random(in: 1...32, using: &rng)))
        }
        #expect(cases.contains { $0.key.isEmpty } && cases.contains { $0.data.isEmpty })
        let input = cases.map { "\(hex($0.key)) \($0.outputLength) \(hex($0.data))" }
        let expected = try runPython("""
            import sys, hashlib
            for line in sys.stdin.read().splitlines():
                key, n, data = line.split(' ')
                print(hashlib.blake2s(bytes.fromhex(data), key=bytes.fromhex(key), digest_size=int(n)).hexdigest())
            """, lines: input)
        try #require(expected.count == cases.count)
        for (c, want) in zip(cases, expected) {
            #expect(hex(BLAKE2s.hash(c.data, key: c.key, outputLength: c.outputLength)) == want,
                    "key \(c.key.count) bytes, data \(c.data.count) bytes, out \(c.outputLength)")
        }
    }
}

// MARK: - Helpers shared by the MeshCrypto test suites

/// `RandomNumberGenerator` over the project's deterministic source, so failures replay.
struct SeededRNG: RandomNumberGenerator {
    private var source: SeededEntropy
    init(seed: UInt64) { source = SeededEntropy(seed: seed) }
    mutating func next() -> UInt64 {
        var v: UInt64 = 0
        withUnsafeMutableBytes(of: &v) { source.fill($0) }
        return v
    }
}

func randomBytes(_ count: Int, using rng: inout SeededRNG) -> [UInt8] {
    (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
}

func hex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

func unhex(_ text: String) -> [UInt8] {
    let chars = Array(text.utf8)
    precondition(chars.count % 2 == 0, "odd-length hex")
    func nibble(_ c: UInt8) -> UInt8 {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: preconditionFailure("not hex: \(text)")
        }
    }
    return stride(from: 0, to: chars.count, by: 2).map { nibble(chars[$0]) << 4 | nibble(chars[$0 + 1]) }
}

struct PythonFailure: Error, CustomStringConvertible {
    var description: String
}

/// Runs `script` in one python3 process with `lines` on stdin and returns its stdout lines.
/// A missing python3 is a failure, not a skip: these comparisons are the independent check.
func runPython(_ script: String, lines: [String]) throws -> [String] {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("meshcrypto-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    // Files rather than pipes for input and errors: no deadlock, no SIGPIPE if python dies early.
    let inputURL = directory.appendingPathComponent("stdin")
    let errorURL = directory.appendingPathComponent("stderr")
    try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: inputURL)
    _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)

    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script]
    let output = Pipe()
    process.standardInput = try FileHandle(forReadingFrom: inputURL)
    process.standardOutput = output
    process.standardError = try FileHandle(forWritingTo: errorURL)
    do {
        try process.run()
    } catch {
        throw PythonFailure(description: "cannot start python3 via /usr/bin/env: \(error)")
    }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        let stderr = (try? String(contentsOf: errorURL, encoding: .utf8)) ?? ""
        throw PythonFailure(description:
            "python3 exited with \(process.terminationStatus) (127 means python3 is not installed): \(stderr)")
    }
    return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
}
