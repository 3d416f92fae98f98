import MeshBase

/// One name a rule's `src` or `dst` (or a test) uses for a set of nodes or addresses.
public enum PolicyAlias: Hashable, Sendable, CustomStringConvertible {
    /// `*`: every address, in the mesh or not.
    case any
    /// `alice`, `alice@` or `alice@example.com`; stored without a trailing `@`.
    case user(String)
    case group(String)
    case tag(String)
    /// A name from `hosts`.
    case host(String)
    case prefix(IPPrefix)
    /// Every node owned by a user (not tagged).
    case autogroupMember
    /// In `dst` only: the nodes of the same user as the source.
    case autogroupSelf

    public var description: String {
        switch self {
        case .any: return "*"
        case .user(let u): return u.contains("@") ? u : u + "@"
        case .group(let g): return g
        case .tag(let t): return t
        case .host(let h): return h
        case .prefix(let p): return p.length == p.address.bitWidth ? p.address.description : p.description
        case .autogroupMember: return "autogroup:member"
        case .autogroupSelf: return "autogroup:self"
        }
    }

    /// Reads an alias. `hosts` decides whether a bare word is a host or a user (hosts win, as in
    /// Tailscale). Whether a group, tag or user exists is checked by the caller, which knows
    /// the position.
    static func parse(_ text: Substring, hosts: Set<String>) -> Result<PolicyAlias, AliasError> {
        if text == "*" { return .success(.any) }
        if text.isEmpty { return .failure(AliasError("an empty alias")) }
        if text.hasPrefix("group:") {
            guard isName(text.dropFirst(6)) else { return .failure(AliasError("'\(text)' is not a valid group name")) }
            return .success(.group(String(text)))
        }
        if text.hasPrefix("tag:") {
            guard isName(text.dropFirst(4)) else { return .failure(AliasError("'\(text)' is not a valid tag name")) }
            return .success(.tag(String(text)))
        }
        if text.hasPrefix("autogroup:") {
            switch text {
            case "autogroup:member": return .success(.autogroupMember)
            case "autogroup:self": return .success(.autogroupSelf)
            default: return .failure(AliasError("'\(text)' is not supported (only autogroup:member and autogroup:self)"))
            }
        }
        if hosts.contains(String(text)) { return .success(.host(String(text))) }
        if let first = text.utf8.first, isDigitOrHex(first) || first == UInt8(ascii: ":"),
           text.contains(".") || text.contains(":") || text.contains("/") {
            do throws(IPParseError) {
                return .success(.prefix(try IPPrefix(text).masked))
            } catch {
                if text.contains("/") || text.contains(":") || text.allSatisfy({ $0.isNumber || $0 == "." }) {
                    return .failure(AliasError(error.description))
                }
            }
        }
        if text.contains(":") { return .failure(AliasError("'\(text)' is not a known kind of alias")) }
        var user = text
        if user.hasSuffix("@") { user = user.dropLast() }
        guard isUserName(user) else { return .failure(AliasError("'\(text)' is not a valid user name or host")) }
        return .success(.user(String(user)))
    }

    /// Tag, group and host names: letters, digits, '-', '_' and '.', not empty.
    static func isName(_ s: Substring) -> Bool {
        !s.isEmpty && s.utf8.count <= 128 && s.utf8.allSatisfy { c in
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 95 || c == 46
        }
    }

    /// A user: a name, optionally `@domain`; no spaces or control characters.
    static func isUserName(_ s: Substring) -> Bool {
        let parts = s.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count <= 2, let local = parts.first, isName(local) else { return false }
        return parts.count == 1 || isName(parts[1])
    }

    private static func isDigitOrHex(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70)
    }
}

struct AliasError: Error {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}
