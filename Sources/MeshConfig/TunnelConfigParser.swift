import MeshBase
import Foundation
import MeshCrypto

/// A config file problem, located by line so the user can go straight to it.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    /// 1-based line of the problem; 0 when it concerns the file as a whole (no [Interface]
    /// section, unreadable file).
    public var line: Int
    public var message: String
    /// Set by `load(path:)`, so a daemon's log names the file, not just a line.
    public var path: String?

    public init(line: Int, message: String, path: String? = nil) {
        self.line = line
        self.message = message
        self.path = path
    }

    public var description: String {
        let file = path.map { "\($0): " } ?? ""
        return line > 0 ? "\(file)line \(line): \(message)" : "\(file)\(message)"
    }
}

/// Reads wg-quick-style files, so an existing WireGuard config runs under meshd unchanged and
/// a mistake is reported with its line instead of surfacing later as a silent misroute.
///
/// Stricter than wg in one way: a single-valued key given twice is an error rather than
/// "last one wins", because the duplicate is almost always a copy-paste slip.
public enum TunnelConfigParser {
    /// wg-quick keys that configure the host rather than the tunnel. meshd leaves them to
    /// the operator, but accepts them so files written for wg-quick still load.
    static let ignoredInterfaceKeys = ["DNS", "Table", "PreUp", "PostUp", "PreDown", "PostDown", "SaveConfig", "FwMark"]

    public static func parse(_ text: String) throws(ConfigError) -> TunnelConfig {
        var state = ParserState()
        var lineNumber = 0
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            try state.consume(line: rawLine, number: lineNumber)
        }
        return try state.finish()
    }

    /// Reads and parses a file; errors carry `path`. Invalid UTF-8 is not rejected here:
    /// it decodes to replacement characters and the parser reports the line it spoils.
    public static func load(path: String) throws(ConfigError) -> TunnelConfig {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigError(line: 0, message: "cannot read config file: \(error.localizedDescription)", path: path)
        }
        do {
            return try parse(String(decoding: data, as: UTF8.self))
        } catch {
            var located = error
            located.path = path
            throw located
        }
    }
}

// MARK: - Line-by-line state

/// The sections read so far. Validation that needs the whole file (a PrivateKey may follow
/// the peers; a peer's PublicKey may come after its other keys) waits for `finish`.
private struct ParserState {
    enum Section { case none, interface, peer }

    struct InterfaceDraft {
        var headerLine: Int
        var privateKey: PrivateKey?
        var addresses: [IPPrefix] = []
        var listenPort: UInt16?
        var mtu: Int?
        /// Line on which each single-valued key was first set, for duplicate messages.
        var seen: [String: Int] = [:]
    }

    struct PeerDraft {
        var headerLine: Int
        var publicKey: PublicKey?
        var publicKeyLine = 0
        var presharedKey: PresharedKey?
        var allowedIPs: [IPPrefix] = []
        var endpoint: Endpoint?
        var persistentKeepalive: Int?
        var seen: [String: Int] = [:]
    }

    var section = Section.none
    var interface: InterfaceDraft?
    var currentPeer: PeerDraft?
    var peers: [(section: PeerSection, publicKeyLine: Int)] = []
    var peerLinesByKey: [PublicKey: Int] = [:]
    /// Where each AllowedIPs prefix (masked) was given, and to which [Peer] section (its header
    /// line). WireGuard silently moves a prefix to the last peer naming it, which misroutes
    /// traffic without a word; here a second peer claiming it is an error naming both lines.
    var allowedIPOwners: [IPPrefix: (line: Int, peerHeader: Int)] = [:]
    var warnings: [String] = []

    mutating func consume(line rawLine: Substring, number: Int) throws(ConfigError) {
        var line = rawLine
        if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
        line = trimmed(line)
        if line.isEmpty { return }

        if line.hasPrefix("[") {
            try startSection(header: line, number: number)
            return
        }
        // Deliberately not echoing the line: it may be a PrivateKey with a typo.
        guard let equals = line.firstIndex(of: "=") else {
            throw ConfigError(line: number, message: "missing '=' (expected 'Key = Value' or a [Section] header)")
        }
        let key = trimmed(line[..<equals])
        let value = trimmed(line[line.index(after: equals)...])
        guard !key.isEmpty else { throw ConfigError(line: number, message: "missing key before '='") }

        switch section {
        case .none:
            throw ConfigError(line: number, message: "\(quoted(key)) appears before any [Interface] or [Peer] section")
        case .interface:
            try applyInterface(key: key, value: value, line: number)
        case .peer:
            try applyPeer(key: key, value: value, line: number)
        }
    }

    mutating func startSection(header: Substring, number: Int) throws(ConfigError) {
        guard header.hasSuffix("]") else {
            throw ConfigError(line: number, message: "malformed section header, expected [Interface] or [Peer]")
        }
        let name = trimmed(header.dropFirst().dropLast())
        try finishPeer()
        switch name.lowercased() {
        case "interface":
            if let existing = interface {
                throw ConfigError(line: number,
                                  message: "duplicate [Interface] section (first on line \(existing.headerLine))")
            }
            interface = InterfaceDraft(headerLine: number)
            section = .interface
        case "peer":
            currentPeer = PeerDraft(headerLine: number)
            section = .peer
        default:
            throw ConfigError(line: number, message: "unknown section [\(clipped(name))], expected [Interface] or [Peer]")
        }
    }

    mutating func applyInterface(key: Substring, value: Substring, line: Int) throws(ConfigError) {
        guard var draft = interface else { return }
        switch key.lowercased() {
        case "privatekey":
            try markSingle("PrivateKey", line: line, seen: &draft.seen)
            draft.privateKey = try parseKey(PrivateKey.self, name: "PrivateKey", value: value, line: line)
        case "address":
            draft.addresses += try parsePrefixes(name: "Address", value: value, line: line)
        case "listenport":
            try markSingle("ListenPort", line: line, seen: &draft.seen)
            draft.listenPort = UInt16(try parseInteger(name: "ListenPort", value: value, range: 0...65535, line: line))
        case "mtu":
            try markSingle("MTU", line: line, seen: &draft.seen)
            draft.mtu = try parseInteger(name: "MTU", value: value, range: 576...65535, line: line)
        case let other:
            guard let name = TunnelConfigParser.ignoredInterfaceKeys.first(where: { $0.lowercased() == other }) else {
                throw ConfigError(line: line, message: "unknown key \(quoted(key)) in [Interface] section")
            }
            warnings.append("line \(line): \(name) is not supported by meshd and was ignored")
        }
        interface = draft
    }

    mutating func applyPeer(key: Substring, value: Substring, line: Int) throws(ConfigError) {
        guard var draft = currentPeer else { return }
        switch key.lowercased() {
        case "publickey":
            try markSingle("PublicKey", line: line, seen: &draft.seen)
            let publicKey = try parseKey(PublicKey.self, name: "PublicKey", value: value, line: line)
            if let first = peerLinesByKey[publicKey] {
                throw ConfigError(line: line, message: "PublicKey: duplicate peer \(publicKey.base64) (first on line \(first))")
            }
            peerLinesByKey[publicKey] = line
            draft.publicKey = publicKey
            draft.publicKeyLine = line
        case "presharedkey":
            try markSingle("PresharedKey", line: line, seen: &draft.seen)
            draft.presharedKey = try parseKey(PresharedKey.self, name: "PresharedKey", value: value, line: line)
        case "allowedips":
            let prefixes = try parsePrefixes(name: "AllowedIPs", value: value, line: line)
            for prefix in prefixes {
                let masked = prefix.masked
                if let owner = allowedIPOwners[masked] {
                    guard owner.peerHeader == draft.headerLine else {
                        throw ConfigError(line: line, message: "AllowedIPs: \(masked) is already given to the peer of line \(owner.peerHeader) (on line \(owner.line)); a prefix can belong to one peer only")
                    }
                } else {
                    allowedIPOwners[masked] = (line, draft.headerLine)
                }
            }
            draft.allowedIPs += prefixes
        case "endpoint":
            try markSingle("Endpoint", line: line, seen: &draft.seen)
            guard !value.isEmpty else { throw ConfigError(line: line, message: "Endpoint: missing value") }
            do {
                draft.endpoint = try Endpoint(value)
            } catch {
                throw ConfigError(line: line, message: "Endpoint: \(error.description)")
            }
        case "persistentkeepalive":
            try markSingle("PersistentKeepalive", line: line, seen: &draft.seen)
            draft.persistentKeepalive = value.lowercased() == "off"
                ? 0
                : try parseInteger(name: "PersistentKeepalive", value: value, range: 0...65535, line: line)
        default:
            throw ConfigError(line: line, message: "unknown key \(quoted(key)) in [Peer] section")
        }
        currentPeer = draft
    }

    mutating func finishPeer() throws(ConfigError) {
        guard let draft = currentPeer else { return }
        currentPeer = nil
        guard let publicKey = draft.publicKey else {
            throw ConfigError(line: draft.headerLine, message: "[Peer] section has no PublicKey")
        }
        let peer = PeerSection(publicKey: publicKey, presharedKey: draft.presharedKey, allowedIPs: draft.allowedIPs,
                               endpoint: draft.endpoint, persistentKeepalive: draft.persistentKeepalive)
        peers.append((peer, draft.publicKeyLine))
    }

    mutating func finish() throws(ConfigError) -> TunnelConfig {
        try finishPeer()
        guard let draft = interface else {
            throw ConfigError(line: 0, message: "missing [Interface] section")
        }
        guard let privateKey = draft.privateKey else {
            throw ConfigError(line: draft.headerLine, message: "[Interface] section has no PrivateKey")
        }
        _ = Sodium.isReady
        let ownPublicKey = privateKey.publicKey
        // A peer with our own key would make every handshake one with ourselves.
        if let own = peers.first(where: { $0.section.publicKey == ownPublicKey }) {
            throw ConfigError(line: own.publicKeyLine,
                              message: "PublicKey: peer has this interface's own public key (derived from PrivateKey)")
        }
        let section = InterfaceSection(privateKey: privateKey, addresses: draft.addresses,
                                       listenPort: draft.listenPort, mtu: draft.mtu)
        return TunnelConfig(interface: section, peers: peers.map(\.section), warnings: warnings)
    }
}

// MARK: - Values

private func markSingle(_ name: String, line: Int, seen: inout [String: Int]) throws(ConfigError) {
    if let first = seen[name] {
        throw ConfigError(line: line, message: "\(name) is set more than once in this section (first on line \(first))")
    }
    seen[name] = line
}

/// Never echoes the value: for PrivateKey and PresharedKey it is a secret, perhaps one
/// character off a real one.
private func parseKey<K: Key32>(_ type: K.Type, name: String, value: Substring, line: Int) throws(ConfigError) -> K {
    guard !value.isEmpty else { throw ConfigError(line: line, message: "\(name): missing value") }
    do {
        return try K(base64: String(value))
    } catch let error as KeyDecodingError {
        throw ConfigError(line: line, message: "\(name): not a valid key: \(error.description)")
    } catch {
        throw ConfigError(line: line, message: "\(name): not a valid key: \(error)")
    }
}

/// A comma-separated list; an empty value adds nothing, as in wg, but an empty entry
/// between commas is a typo worth reporting.
private func parsePrefixes(name: String, value: Substring, line: Int) throws(ConfigError) -> [IPPrefix] {
    if value.isEmpty { return [] }
    var prefixes: [IPPrefix] = []
    for item in value.split(separator: ",", omittingEmptySubsequences: false) {
        let text = trimmed(item)
        guard !text.isEmpty else { throw ConfigError(line: line, message: "\(name): empty entry in list") }
        do {
            prefixes.append(try IPPrefix(text))
        } catch {
            throw ConfigError(line: line, message: "\(name): \(error.description)")
        }
    }
    return prefixes
}

private func parseInteger(name: String, value: Substring, range: ClosedRange<Int>, line: Int) throws(ConfigError) -> Int {
    guard !value.isEmpty else { throw ConfigError(line: line, message: "\(name): missing value") }
    let digits = value.hasPrefix("-") || value.hasPrefix("+") ? value.dropFirst() : value
    guard !digits.isEmpty, digits.utf8.allSatisfy(isDecimalDigit) else {
        throw ConfigError(line: line, message: "\(name): \(quoted(value)) is not a number")
    }
    // Int(...) is nil only on overflow here, which is out of range all the same.
    guard let number = Int(value), range.contains(number) else {
        throw ConfigError(line: line, message: "\(name): \(clipped(value)) is outside \(range.lowerBound)...\(range.upperBound)")
    }
    return number
}

private func trimmed(_ text: Substring) -> Substring {
    guard let first = text.firstIndex(where: { !$0.isWhitespace }),
          let last = text.lastIndex(where: { !$0.isWhitespace }) else { return text[text.endIndex...] }
    return text[first...last]
}

/// Keeps messages readable when the offending text is a megabyte of garbage.
private func clipped(_ text: Substring) -> String {
    text.count > 64 ? String(text.prefix(61)) + "..." : String(text)
}

private func quoted(_ text: Substring) -> String { "'\(clipped(text))'" }
