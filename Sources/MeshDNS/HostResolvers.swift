/// The resolvers the host had before meshd: where MagicDNS forwards every name it does not own.
/// They come from the original resolv.conf (the backup, when meshd manages the file), never
/// from the managed one, which names MagicDNS itself: forwarding there would loop.
public struct HostResolvers: Sendable, Equatable {
    /// The host's own file as parsed (for `DNSUpstream.list(from:excluding:)`).
    public var original: ResolvConf
    /// Its servers as resolv.conf names them, in its order, without MagicDNS's address.
    public var nameservers: [String]

    /// glibc asks the local machine when resolv.conf names no server (resolv.conf(5)).
    public static let noneConfigured = ["127.0.0.1"]

    /// The servers `original` names, without MagicDNS's own address (a file meshd wrote and
    /// nobody restored must not make it its own upstream); the local machine when the file
    /// names none at all.
    public init(original: ResolvConf, excluding dnsAddress: String) {
        self.original = original
        let listed = original.nameservers.filter { $0 != dnsAddress }
        nameservers = listed.isEmpty && original.nameservers.isEmpty ? Self.noneConfigured : listed
    }
}
