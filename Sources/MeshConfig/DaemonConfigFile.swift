import Foundation

/// `meshd up --config /etc/mesh/meshd.toml`: what a service's unit should not have to spell out
/// in flags. Every key is optional; a flag given on the command line wins over the file, and the
/// file over the built-in default, so the packaged file can stay commented out.
///
/// The join token itself never goes in here (the file is world-readable by convention): the
/// file names the token's file (`join_file`), which only root reads.
public struct DaemonConfigFile: Sendable, Equatable {
    public var stateDirectory: String?
    public var port: UInt16?
    public var interface: String?
    public var socket: String?
    public var joinFile: String?
    public var hostname: String?
    public var caFile: String?
    public var logLevel: LogLevel?

    /// The levels an admin can ask for (swift-log's, by their usual names).
    public enum LogLevel: String, Sendable, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
    }

    public struct Problem: Error, CustomStringConvertible {
        public let description: String
        init(_ d: String) { description = d }
    }

    public static let knownKeys = ["state_dir", "port", "interface", "socket", "join_file", "hostname", "ca_file", "log_level"]
    /// Linux's interface names are at most 15 bytes (IFNAMSIZ - 1).
    static let maxInterfaceName = 15

    public init() {}

    /// Reads the file; a problem names the file and line. Text beyond 1 MiB is refused before parsing.
    public static func load(path: String) throws -> DaemonConfigFile {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw Problem("\(path): cannot be read (\(String(cString: strerror(errno))))")
        }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: (1 << 20) + 1)) ?? Data()
        guard data.count <= 1 << 20 else { throw Problem("\(path): larger than 1 MiB; not a meshd config file") }
        guard let text = String(data: data, encoding: .utf8) else { throw Problem("\(path): not UTF-8 text") }
        return try parse(text, file: path)
    }

    public static func parse(_ rawText: String, file: String) throws -> DaemonConfigFile {
        var text = rawText
        if text.unicodeScalars.first == "\u{FEFF}" { text.unicodeScalars.removeFirst() }
        var config = DaemonConfigFile()
        var seen: [String: Int] = [:]
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            let lineNo = index + 1
            let line = TOMLValue.stripComment(String(rawLine)).trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            let at = "\(file):\(lineNo)"
            if line.hasPrefix("[") { throw Problem("\(at): meshd's config file has no sections (\(Self.shown(line)))") }
            guard let eq = line.firstIndex(of: "=") else { throw Problem("\(at): expected key = value, got \(Self.shown(line))") }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            let valueText = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            guard knownKeys.contains(key) else {
                throw Problem("\(at): unknown key \(Self.shown(key)) (known: \(knownKeys.joined(separator: ", ")))")
            }
            if let first = seen[key] { throw Problem("\(at): duplicate key \"\(key)\" (first set on line \(first))") }
            seen[key] = lineNo
            let value: TOMLValue
            do { value = try TOMLValue.parse(valueText) } catch let e as TOMLValue.SyntaxError {
                throw Problem("\(at): \(key): \(e.description)")
            }
            switch key {
            case "port":
                guard case .integer(let p) = value, let port = UInt16(exactly: p) else {
                    throw Problem("\(at): port must be a whole number 0-65535 (0: any free port)")
                }
                config.port = port
            case "log_level":
                let name = try string(value, at, key)
                guard let level = LogLevel(rawValue: name) else {
                    throw Problem("\(at): log_level must be one of \(LogLevel.allCases.map(\.rawValue).joined(separator: ", ")), not \(Self.shown(name))")
                }
                config.logLevel = level
            case "interface":
                let name = try string(value, at, key)
                guard !name.isEmpty, name.utf8.count <= maxInterfaceName, name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != 0x2F }) else {
                    throw Problem("\(at): interface must be 1-\(maxInterfaceName) printable characters without '/' or spaces")
                }
                config.interface = name
            default:
                let s = try string(value, at, key)
                guard !s.isEmpty else { throw Problem("\(at): \(key) is empty") }
                switch key {
                case "state_dir": config.stateDirectory = s
                case "socket": config.socket = s
                case "join_file": config.joinFile = s
                case "hostname": config.hostname = s
                case "ca_file": config.caFile = s
                default: break
                }
            }
        }
        return config
    }

    private static func string(_ v: TOMLValue, _ at: String, _ key: String) throws -> String {
        guard case .string(let s) = v else { throw Problem("\(at): \(key) must be a string in quotes") }
        return s
    }

    /// Text from the file, shortened and with control characters escaped, for an error message.
    static func shown(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars.prefix(60) {
            if u.value < 0x20 || u.value == 0x7F { out += "\\u{\(String(u.value, radix: 16))}" } else { out.unicodeScalars.append(u) }
        }
        return "\"" + out + (s.unicodeScalars.count > 60 ? "...\"" : "\"")
    }
}
