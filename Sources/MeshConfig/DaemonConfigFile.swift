import Foundation
import MeshBase

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
    /// `dns_address`: where MagicDNS answers (an IPv4 address; "off": no MagicDNS).
    public var dnsAddress: String?
    /// `manage_resolv_conf = true`: where systemd-resolved does not run, meshd may rewrite
    /// /etc/resolv.conf to name MagicDNS (keeping a backup, restored at down and exit).
    public var manageResolvConf: Bool?
    /// `mtu`: the tunnel's MTU (`mtuRange`; default 1280, which fits any underlay path an IPv6
    /// host can be on). A larger one carries more per packet where the underlay allows it.
    public var mtu: Int?

    /// IPv6 needs at least 1280 bytes on every link, the overlay's included; 9000 is a jumbo frame.
    public static let mtuRange = 1280...9000

    /// The levels an admin can ask for (swift-log's, by their usual names).
    public enum LogLevel: String, Sendable, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
    }

    public struct Problem: Error, CustomStringConvertible {
        public let description: String
        init(_ d: String) { description = d }
    }

    public static let knownKeys = ["state_dir", "port", "interface", "socket", "join_file", "hostname", "ca_file", "log_level", "manage_resolv_conf",
                                   "dns_address", "mtu"]
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

    public static func parse(_ text: String, file: String) throws -> DaemonConfigFile {
        var config = DaemonConfigFile()
        do { try TOMLLines.read(text) { line in
            let at = "\(file):\(line.lineNumber)"
            let key: String, valueText: String
            switch line {
            case .table(_, let header): throw Problem("\(at): meshd's config file has no sections (\(Self.shown(header)))")
            case .entry(_, let k, let v): (key, valueText) = (k, v)
            }
            guard knownKeys.contains(key) else {
                throw Problem("\(at): unknown key \(Self.shown(key)) (known: \(knownKeys.joined(separator: ", ")))")
            }
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
            case "mtu":
                guard case .integer(let m) = value, let mtu = Int(exactly: m), mtuRange.contains(mtu) else {
                    throw Problem("\(at): mtu must be a whole number \(mtuRange.lowerBound)-\(mtuRange.upperBound)")
                }
                config.mtu = mtu
            case "manage_resolv_conf":
                guard case .bool(let on) = value else { throw Problem("\(at): manage_resolv_conf must be true or false") }
                config.manageResolvConf = on
            case "dns_address":
                let text = try string(value, at, key)
                guard text == "off" || ((try? IPAddress(text))?.isV4 == true && text != "0.0.0.0") else {
                    throw Problem("\(at): dns_address must be an IPv4 address (default 100.100.100.100) or \"off\", not \(Self.shown(text))")
                }
                config.dnsAddress = text
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
        } } catch let p as TOMLLines.Problem {
            throw Problem("\(file):\(p.lineNumber): \(p.message)")
        }
        return config
    }

    private static func string(_ v: TOMLValue, _ at: String, _ key: String) throws -> String {
        guard case .string(let s) = v else { throw Problem("\(at): \(key) must be a string in quotes") }
        return s
    }

    /// Text from the file, shortened and with control characters escaped, for an error message.
    static func shown(_ s: String) -> String { TOMLLines.shown(s) }
}
