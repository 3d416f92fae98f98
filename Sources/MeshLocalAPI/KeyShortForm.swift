/// The short form of a public key people read and type: its first 8 base64 characters, as
/// `meshctl whois` prints it and `meshctl ping` accepts it (enough to tell a network's nodes
/// apart; the full key is in `--json`).
public enum KeyShortForm {
    public static let length = 8
    public static func of(_ base64Key: String) -> String { String(base64Key.prefix(length)) }
}
