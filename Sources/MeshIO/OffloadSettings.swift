import Foundation

/// Which of the data path's kernel offloads meshd asks for. All are on unless the environment
/// variable `MESH_DISABLE_OFFLOADS` names some (comma-separated): a knob for an admin chasing
/// a kernel or NIC problem, and how the lab forces each fallback path. Unknown names are
/// reported, not fatal, so a typo does not keep a node off the network.
public struct OffloadSettings: Equatable, Sendable {
    /// The TUN's virtio-net header and every offload that hangs on it (`tun`).
    public var tunOffloads = true
    /// UDP segmentation offload through the TUN (`uso`): TSO stays.
    public var tunUDPSegmentation = true
    /// Merging received TCP segments into super-packets before the TUN write (`tun-gro`).
    public var tunCoalescing = true
    /// UDP_SEGMENT on the socket (`udp-gso`).
    public var udpGSO = true
    /// UDP_GRO on the socket (`udp-gro`).
    public var udpGRO = true
    /// Names in the variable that mean nothing here.
    public private(set) var unknown: [String] = []

    public static let environmentVariable = "MESH_DISABLE_OFFLOADS"
    public static let names = ["tun", "uso", "tun-gro", "udp-gso", "udp-gro"]

    public init() {}

    public init(disabling list: String?) {
        for raw in (list ?? "").split(separator: ",") {
            let name = raw.trimmingCharacters(in: .whitespaces).lowercased()
            switch name {
            case "tun": tunOffloads = false
            case "uso": tunUDPSegmentation = false
            case "tun-gro": tunCoalescing = false
            case "udp-gso": udpGSO = false
            case "udp-gro": udpGRO = false
            case "all": self = OffloadSettings(disabling: Self.names.joined(separator: ","))
            case "": break
            default: unknown.append(String(name.prefix(32).filter { $0.isASCII && !$0.isWhitespace && $0.isPrintable }))
            }
        }
    }
}

private extension Character {
    var isPrintable: Bool { asciiValue.map { $0 >= 0x21 && $0 < 0x7f } ?? false }
}
