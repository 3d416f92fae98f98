/// Why bytes from a client (or an upstream resolver) are not a DNS message this server can
/// read. The cases name the rule that failed so a test can say which one it meant to hit.
public enum DNSParseError: Error, Equatable, Sendable {
    /// Fewer bytes than the header, a name, or a record needs.
    case truncated
    /// A label length byte with the reserved top bits 01 or 10 (RFC 6891 dropped extended labels).
    case badLabelType
    /// A compression pointer that does not point strictly backwards (which is what makes loops
    /// impossible), or one beyond the message.
    case badPointer
    /// A name longer than 255 bytes on the wire or with more than 127 labels (RFC 1035 3.1).
    case nameTooLong
    /// Not exactly one question (every resolver sends one; RFC 9619 makes it the rule).
    case questionCount
    /// The QR bit says this is a response, not a query.
    case notAQuery
}
