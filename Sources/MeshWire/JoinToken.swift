import MeshCrypto

/// What a node needs to join: the coordinator's URL, its public key (so the node verifies the
/// coordinator on first contact without TLS) and an auth secret, in one copy-pasteable string:
///
///     mesh1_<base64url, no padding, of: coordinator key (32) | secret (32) | URL (UTF-8) | check (4)>
///
/// `check` is the first 4 bytes of BLAKE2s over everything before it, so a truncated or mistyped
/// token is refused with a clear message instead of failing later at the coordinator.
/// Whitespace (line wraps from a terminal or e-mail) is ignored when parsing.
public struct JoinToken: Equatable, Sendable, CustomStringConvertible {
    public static let prefix = "mesh1_"
    public static let secretLength = 32
    static let checkLength = 4

    public var coordinatorURL: String
    /// The key's raw bytes, as the token carries them.
    public var coordinatorKeyBytes: [UInt8]
    public var coordinatorKey: PublicKey { try! PublicKey(rawBytes: coordinatorKeyBytes) }
    /// The 32 raw secret bytes.
    public var secret: [UInt8]

    public init(coordinatorURL: String, coordinatorKey: PublicKey, secret: [UInt8]) {
        precondition(secret.count == JoinToken.secretLength, "join token secret must be 32 bytes")
        self.coordinatorURL = coordinatorURL
        self.coordinatorKeyBytes = coordinatorKey.rawBytes
        self.secret = secret
    }

    /// The auth secret as sent in `RegisterRequest.authKey`.
    public var authSecret: String { Base64URL.encode(secret) }

    public var encoded: String {
        var raw = coordinatorKeyBytes + secret + Array(coordinatorURL.utf8)
        raw += BLAKE2s.hash(raw, outputLength: 32).prefix(JoinToken.checkLength)
        return JoinToken.prefix + Base64URL.encode(raw)
    }

    /// Never prints the secret.
    public var description: String { "JoinToken(\(coordinatorURL), key \(coordinatorKey.base64))" }

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case empty
        case wrongPrefix
        case unsupportedVersion(String)
        case badCharacters
        case tooShort
        case checksumMismatch
        case badURL(String)

        public var description: String {
            switch self {
            case .empty:
                return "join token is empty"
            case .wrongPrefix:
                return "not a mesh join token: it must start with \"\(JoinToken.prefix)\" (make one with `meshcoord authkey create`)"
            case .unsupportedVersion(let v):
                return "join token format \"\(v)\" is not supported by this version of mesh (expected \"\(JoinToken.prefix)\")"
            case .badCharacters:
                return "join token contains characters that are not base64url: was it altered when copying?"
            case .tooShort:
                return "join token is too short: it was probably cut off when copying"
            case .checksumMismatch:
                return "join token is corrupted or truncated (checksum mismatch): copy it again in full"
            case .badURL(let u):
                return "join token carries an unusable coordinator URL \"\(u)\" (need http:// or https://)"
            }
        }
    }

    public init(parsing text: String) throws {
        let s = String(text.unicodeScalars.filter { !$0.properties.isWhitespace })
        guard !s.isEmpty else { throw ParseError.empty }
        guard s.hasPrefix(JoinToken.prefix) else {
            if s.hasPrefix("mesh"), let underscore = s.firstIndex(of: "_"),
               s.distance(from: s.startIndex, to: underscore) <= 8 {
                throw ParseError.unsupportedVersion(String(s[...underscore]))
            }
            throw ParseError.wrongPrefix
        }
        guard let raw = Base64URL.decode(String(s.dropFirst(JoinToken.prefix.count))) else { throw ParseError.badCharacters }
        let minimum = 32 + JoinToken.secretLength + JoinToken.checkLength + 1
        guard raw.count >= minimum else {
            // A cut-off token usually also breaks the checksum; say "truncated" either way.
            throw ParseError.tooShort
        }
        let body = Array(raw.dropLast(JoinToken.checkLength))
        let check = Array(raw.suffix(JoinToken.checkLength))
        guard Array(BLAKE2s.hash(body, outputLength: 32).prefix(JoinToken.checkLength)) == check else {
            throw ParseError.checksumMismatch
        }
        let key = try! PublicKey(rawBytes: body[0..<32])
        let secret = Array(body[32..<64])
        let url = String(decoding: body[64...], as: UTF8.self)
        guard url.hasPrefix("http://") || url.hasPrefix("https://"), url.count > 8,
              !url.contains(where: { $0.isWhitespace }) else { throw ParseError.badURL(url) }
        self.init(coordinatorURL: url, coordinatorKey: key, secret: secret)
    }
}

/// base64url without padding (RFC 4648 section 5).
public enum Base64URL {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    static let reverse: [UInt8] = {
        var r = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { r[Int(c)] = UInt8(i) }
        return r
    }()

    public static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var i = 0
        while i + 3 <= bytes.count {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [alphabet[Int(v >> 18 & 63)], alphabet[Int(v >> 12 & 63)], alphabet[Int(v >> 6 & 63)], alphabet[Int(v & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let v = UInt32(bytes[i]) << 16
            out += [alphabet[Int(v >> 18 & 63)], alphabet[Int(v >> 12 & 63)]]
        } else if rest == 2 {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [alphabet[Int(v >> 18 & 63)], alphabet[Int(v >> 12 & 63)], alphabet[Int(v >> 6 & 63)]]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Nil on characters outside the alphabet or an impossible length. Trailing '=' is tolerated.
    public static func decode(_ text: String) -> [UInt8]? {
        var chars = Array(text.utf8)
        while chars.last == UInt8(ascii: "=") { chars.removeLast() }
        guard chars.count % 4 != 1 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(chars.count * 3 / 4)
        var acc: UInt32 = 0, bits = 0
        for c in chars {
            let v = reverse[Int(c)]
            guard v != 0xFF else { return nil }
            acc = acc << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
            }
        }
        return out
    }
}
