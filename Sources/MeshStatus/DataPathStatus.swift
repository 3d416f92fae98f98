/// Which kernel offloads the node's data path holds and how much they carry: the first thing
/// to look at when a tunnel is slower than it should be (issue 12). Shared by meshd and meshctl.
public struct DataPathStatus: Codable, Sendable, Equatable {
    /// What the TUN was granted: "vnet_hdr", "csum", "tso4", "tso6", "uso4", "uso6"; empty: none.
    public var tunOffloads: [String]
    /// Received TCP segments merged into super-packets before the TUN write.
    public var tunCoalescing: Bool
    /// UDP_SEGMENT in use (false once the kernel refused it with EIO, or when disabled).
    public var udpGSO: Bool
    public var udpGRO: Bool
    /// Sends the kernel refused GSO for.
    public var gsoRefusals: Int
    public var superPacketsFromTunnel: Int
    public var segmentsSplit: Int
    public var superPacketsToTunnel: Int
    public var segmentsCoalesced: Int
    /// Batches sent with GSO, and receives that carried more than one datagram.
    public var gsoSends: Int
    public var groReceives: Int
    /// TUN reads whose virtio header or super-packet did not parse.
    public var unusableTunnelReads: Int
    /// Who seals and opens the data: "boringssl" or "libsodium".
    public var transportCipher: String?
    /// Threads that seal (and that open) one batch, and the batches spread over more than one.
    public var cryptoThreads: Int?
    public var parallelBatches: Int?

    public init(tunOffloads: [String], tunCoalescing: Bool, udpGSO: Bool, udpGRO: Bool, gsoRefusals: Int = 0,
                superPacketsFromTunnel: Int = 0, segmentsSplit: Int = 0, superPacketsToTunnel: Int = 0,
                segmentsCoalesced: Int = 0, gsoSends: Int = 0, groReceives: Int = 0, unusableTunnelReads: Int = 0,
                transportCipher: String? = nil, cryptoThreads: Int? = nil, parallelBatches: Int? = nil) {
        self.transportCipher = transportCipher
        self.cryptoThreads = cryptoThreads
        self.parallelBatches = parallelBatches
        self.tunOffloads = tunOffloads
        self.tunCoalescing = tunCoalescing
        self.udpGSO = udpGSO
        self.udpGRO = udpGRO
        self.gsoRefusals = gsoRefusals
        self.superPacketsFromTunnel = superPacketsFromTunnel
        self.segmentsSplit = segmentsSplit
        self.superPacketsToTunnel = superPacketsToTunnel
        self.segmentsCoalesced = segmentsCoalesced
        self.gsoSends = gsoSends
        self.groReceives = groReceives
        self.unusableTunnelReads = unusableTunnelReads
    }

    /// One line for `meshctl status`.
    public var summary: String {
        let tun = tunOffloads.filter { $0 != "vnet_hdr" && $0 != "csum" }
        return "offloads: TUN \(tun.isEmpty ? "none" : tun.joined(separator: ","))\(tunCoalescing ? "+gro" : ""), "
            + "UDP GSO \(udpGSO ? "on" : gsoRefusals > 0 ? "off (refused)" : "off"), UDP GRO \(udpGRO ? "on" : "off")"
            + (transportCipher.map { ", cipher \($0)" } ?? "") + (cryptoThreads.map { " on \($0) thread\($0 == 1 ? "" : "s")" } ?? "")
    }
}
