/// A domain name as the labels on the wire (case kept, for echoing the question back), read
/// with compression pointers under the limits that keep a hostile message from looping or
/// growing without end: every pointer must point strictly before the place it was read from,
/// the name is at most 255 bytes (RFC 1035 3.1) and so at most 127 labels.
public struct DNSName: Sendable, Equatable, CustomStringConvertible {
    public static let maxWireLength = 255
    public static let maxLabels = 127
    public static let maxLabelLength = 63

    public private(set) var labels: [[UInt8]]

    public init(labels: [[UInt8]]) throws(DNSParseError) {
        guard labels.count <= Self.maxLabels else { throw .nameTooLong }
        var length = 1
        for l in labels {
            guard !l.isEmpty, l.count <= Self.maxLabelLength else { throw .nameTooLong }
            length += 1 + l.count
        }
        guard length <= Self.maxWireLength else { throw .nameTooLong }
        self.labels = labels
    }

    /// From dotted text ("b.mesh", a trailing dot allowed); nil when a label is empty or the name too long.
    public init?(_ text: String) {
        var t = Substring(text)
        if t.hasSuffix(".") { t = t.dropLast() }
        if t.isEmpty {
            labels = []
            return
        }
        let parts = t.split(separator: ".", omittingEmptySubsequences: false).map { Array($0.utf8) }
        guard let n = try? DNSName(labels: parts) else { return nil }
        self = n
    }

    /// Reads the name that starts at `offset` in `message`; returns it and the offset just after
    /// it at the place it started (a pointer ends the name in two bytes).
    public static func read(_ message: [UInt8], at offset: Int) throws(DNSParseError) -> (name: DNSName, next: Int) {
        var labels: [[UInt8]] = []
        var at = offset
        var next: Int?
        var length = 1
        // The lowest offset a pointer may still go to: strictly before every pointer followed so far.
        var limit = offset
        while true {
            guard at >= 0, at < message.count else { throw .truncated }
            let byte = message[at]
            switch byte & 0xC0 {
            case 0x00:
                let count = Int(byte)
                if count == 0 {
                    return (try DNSName(labels: labels), next ?? at + 1)
                }
                guard at + 1 + count <= message.count else { throw .truncated }
                length += 1 + count
                guard length <= maxWireLength, labels.count < maxLabels else { throw .nameTooLong }
                labels.append(Array(message[(at + 1)..<(at + 1 + count)]))
                at += 1 + count
            case 0xC0:
                guard at + 1 < message.count else { throw .truncated }
                let target = Int(byte & 0x3F) << 8 | Int(message[at + 1])
                guard target < limit, target < at else { throw .badPointer }
                if next == nil { next = at + 2 }
                limit = target
                at = target
            default:
                throw .badLabelType
            }
        }
    }

    /// The uncompressed wire form.
    public var wire: [UInt8] {
        var out: [UInt8] = []
        for l in labels {
            out.append(UInt8(truncatingIfNeeded: l.count))
            out += l
        }
        out.append(0)
        return out
    }

    /// The labels in ASCII lower case: DNS compares names without regard to ASCII case (RFC 4343).
    public var lowercased: DNSName {
        var n = self
        n.labels = labels.map { $0.map(Self.lowerASCII) }
        return n
    }

    static func lowerASCII(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }

    /// Whether this name is `suffix` or lies under it, ignoring ASCII case.
    public func isSubdomain(of suffix: DNSName) -> Bool {
        guard labels.count >= suffix.labels.count else { return false }
        let mine = lowercased.labels.suffix(suffix.labels.count)
        return Array(mine) == suffix.lowercased.labels
    }

    /// Dotted text with a trailing dot; bytes outside printable ASCII, dots and backslashes
    /// inside labels escaped as `\DDD` (RFC 4343), so a name from the network cannot forge log lines.
    public var description: String {
        if labels.isEmpty { return "." }
        var s = ""
        for l in labels {
            for b in l {
                if b == 0x2E || b == 0x5C || b <= 0x20 || b >= 0x7F {
                    let d = String(b)
                    s += "\\" + String(repeating: "0", count: 3 - d.count) + d
                } else {
                    s.unicodeScalars.append(Unicode.Scalar(b))
                }
            }
            s += "."
        }
        return s
    }
}
