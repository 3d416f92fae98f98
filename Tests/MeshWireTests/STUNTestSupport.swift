import Foundation
import Testing

// Helpers for the STUN tests. Names carry a `stun` prefix: other files share this test module.

func stunHex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

/// Hex to bytes; whitespace ignored (so RFC 5769 dumps can be pasted as they are laid out).
func stunUnhex(_ text: String) -> [UInt8] {
    let digits = text.unicodeScalars.filter { !CharacterSet.whitespacesAndNewlines.contains($0) }
    precondition(digits.count % 2 == 0, "odd-length hex")
    var out: [UInt8] = []
    var iterator = digits.makeIterator()
    while let hi = iterator.next(), let lo = iterator.next() {
        out.append(UInt8(String(hi) + String(lo), radix: 16)!)
    }
    return out
}

/// SplitMix64: a small seeded generator, so failures reproduce.
struct STUNTestRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255, using: &self) } }
}

struct STUNPythonFailure: Error, CustomStringConvertible {
    var description: String
}

/// The interpreter that Packaging/install-deps.sh provides (Debian's python3, with the
/// `python3-aioice` package); `MESH_PYTHON3` overrides it. Not whatever `python3` is first
/// on PATH: that may be a pyenv shim without the packages.
func stunPythonPath() -> String {
    ProcessInfo.processInfo.environment["MESH_PYTHON3"] ?? "/usr/bin/python3"
}

/// Runs `script` in one python3 process with `lines` on stdin; returns its stdout lines.
/// A missing python3 is a failure, not a skip: Python is the independent check.
func runSTUNPython(_ script: String, lines: [String] = []) throws -> [String] {
    let python = stunPythonPath()
    guard FileManager.default.isExecutableFile(atPath: python) else {
        throw STUNPythonFailure(description:
            "\(python) not found: run Packaging/install-deps.sh (Debian package python3) or set MESH_PYTHON3")
    }
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("meshwire-stun-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let inputURL = directory.appendingPathComponent("stdin")
    let errorURL = directory.appendingPathComponent("stderr")
    try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: inputURL)
    _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)

    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = ["-c", script]
    let output = Pipe()
    process.standardInput = try FileHandle(forReadingFrom: inputURL)
    process.standardOutput = output
    process.standardError = try FileHandle(forWritingTo: errorURL)
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        let stderr = (try? String(contentsOf: errorURL, encoding: .utf8)) ?? ""
        throw STUNPythonFailure(description: "\(python) exited with \(process.terminationStatus): \(stderr)")
    }
    return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
}
