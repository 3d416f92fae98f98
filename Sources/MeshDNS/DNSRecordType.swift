/// The record types (RFC 1035 3.2.2, RFC 3596, RFC 6891) this server answers or has to recognise.
public enum DNSRecordType {
    public static let a: UInt16 = 1
    public static let ptr: UInt16 = 12
    public static let aaaa: UInt16 = 28
    public static let opt: UInt16 = 41
    public static let any: UInt16 = 255
    /// Class IN (RFC 1035 3.2.4).
    public static let classIN: UInt16 = 1
}

/// Response codes (RFC 1035 4.1.1; BADVERS from RFC 6891, split between header and OPT).
public enum DNSResponseCode: UInt16, Sendable {
    case noError = 0
    case formatError = 1
    case serverFailure = 2
    case nameError = 3
    case notImplemented = 4
    case refused = 5
    case badVersion = 16
}
