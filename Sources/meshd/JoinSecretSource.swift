import Foundation
import MeshWire

/// Where `meshd up` takes its join token from. A token on the command line is visible to every
/// local user through `ps` and /proc for the daemon's whole life, so the file, standard input
/// and the environment come first; `--join` still works but its bytes are wiped from argv.
enum JoinSecretSource {
    /// The environment variable read when neither `--join-file` nor `--join` is given. It is
    /// removed from the environment once read, so helpers the daemon starts do not inherit it.
    static let environmentVariable = "MESH_JOIN_TOKEN"
    /// A token is about 120 characters; anything much longer is not a token file.
    static let maxFileBytes = 4096

    /// The token text from the first source given, or nil when none is. `joinFile` "-" is stdin.
    static func read(joinFile: String?, joinArgument: String?,
                     environment: [String: String] = ProcessInfo.processInfo.environment,
                     warn: (String) -> Void) throws -> String? {
        if let joinFile {
            let text = try readFile(joinFile, warn: warn)
            guard !text.isEmpty else { throw CommandFailure("--join-file \(joinFile) holds no token") }
            return text
        }
        if let joinArgument {
            ArgvScrubber.wipe(joinArgument)
            return joinArgument
        }
        if let value = environment[environmentVariable]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty {
            unsetenv(environmentVariable)
            return value
        }
        return nil
    }

    private static func readFile(_ path: String, warn: (String) -> Void) throws -> String {
        let handle: FileHandle
        if path == "-" {
            handle = FileHandle.standardInput
        } else {
            guard let h = FileHandle(forReadingAtPath: path) else {
                throw CommandFailure("cannot read --join-file \(path)")
            }
            handle = h
            var info = stat()
            if fstat(h.fileDescriptor, &info) == 0, info.st_mode & 0o077 != 0 {
                warn("\(path) can be read by other users (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it or delete it after joining")
            }
        }
        defer { if path != "-" { try? handle.close() } }
        let data = (try? handle.read(upToCount: maxFileBytes + 1)) ?? Data()
        guard data.count <= maxFileBytes else {
            throw CommandFailure("--join-file \(path) is larger than \(maxFileBytes) bytes: not a join token")
        }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Overwrites a secret wherever it occurs in the process's own argument vector, which is the
/// memory the kernel shows in /proc/PID/cmdline (and so in `ps`).
enum ArgvScrubber {
    static func wipe(_ secret: String) {
        let needle = Array(secret.utf8)
        guard !needle.isEmpty else { return }
        for i in 1..<Int(CommandLine.argc) {
            guard let arg = CommandLine.unsafeArgv[i] else { continue }
            let length = strlen(arg)
            guard length >= needle.count else { continue }
            arg.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
                var start = 0
                while start + needle.count <= length {
                    if (0..<needle.count).allSatisfy({ bytes[start + $0] == needle[$0] }) {
                        for j in start..<(start + needle.count) { bytes[j] = UInt8(ascii: "x") }
                        start += needle.count
                    } else {
                        start += 1
                    }
                }
            }
        }
    }
}
