/// One of the coordinator's `extra_records` as the netmap carries it (issue 11, MagicDNS):
/// `name` answers `type` (A or AAAA) with `value` (an address). The node parses every field
/// again and skips a record that does not read; here only the lengths are held to what a DNS
/// name, a type and an address can be, while decoding.
public struct DNSExtraRecord: Codable, Sendable, Equatable, Hashable {
    public var name: String
    public var type: String
    public var value: String

    public init(name: String, type: String, value: String) {
        self.name = name
        self.type = type
        self.value = value
    }

    enum CodingKeys: String, CodingKey { case name, type, value }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        type = try c.decode(String.self, forKey: .type)
        value = try c.decode(String.self, forKey: .value)
        guard name.utf8.count <= 254, type.utf8.count <= 8, value.utf8.count <= 64 else {
            throw DecodingError.dataCorruptedError(forKey: .name, in: c,
                                                   debugDescription: "an extra record longer than a DNS name, a type and an address")
        }
    }
}

/// The netmap's list of extra records (JSON: a plain array), bounded while it is decoded: past
/// `maxCount` entries the whole map is refused before the rest of the list is built.
public struct DNSExtraRecords: Codable, Sendable, Equatable, Hashable {
    /// The coordinator's config takes at most this many too.
    public static let maxCount = 1024
    public var records: [DNSExtraRecord]

    public init(_ records: [DNSExtraRecord]) { self.records = records }

    public init(from decoder: any Decoder) throws {
        var list = try decoder.unkeyedContainer()
        var out: [DNSExtraRecord] = []
        while !list.isAtEnd {
            guard out.count < Self.maxCount else {
                throw DecodingError.dataCorruptedError(in: list, debugDescription: "more than \(Self.maxCount) extra records")
            }
            out.append(try list.decode(DNSExtraRecord.self))
        }
        records = out
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(records)
    }
}
