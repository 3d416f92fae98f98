// A tunnel config is made of addresses, prefixes and endpoints: whoever reads one needs those types.
@_exported import MeshBase
import MeshCrypto

/// A wg-quick-style tunnel description: what `meshd --config FILE` runs without a
/// coordinator, and how interop with stock WireGuard peers is tested.
public struct TunnelConfig: Equatable, Sendable {
    public var interface: InterfaceSection
    public var peers: [PeerSection]
    /// wg-quick keys the file used that meshd does not act on (DNS, PostUp, ...), one
    /// message each. They are accepted so existing files load, but the user should know
    /// they had no effect.
    public var warnings: [String]

    public init(interface: InterfaceSection, peers: [PeerSection] = [], warnings: [String] = []) {
        self.interface = interface
        self.peers = peers
        self.warnings = warnings
    }
}

/// The local end of the tunnel.
public struct InterfaceSection: Equatable, Sendable {
    public var privateKey: PrivateKey
    public var addresses: [IPPrefix]
    /// nil or 0 lets the system pick a port, as wg does.
    public var listenPort: UInt16?
    /// nil means "use the default"; the caller applies 1280 so IPv6 always fits.
    public var mtu: Int?

    public init(privateKey: PrivateKey, addresses: [IPPrefix] = [], listenPort: UInt16? = nil, mtu: Int? = nil) {
        self.privateKey = privateKey
        self.addresses = addresses
        self.listenPort = listenPort
        self.mtu = mtu
    }
}

/// One remote WireGuard peer.
public struct PeerSection: Equatable, Sendable {
    public var publicKey: PublicKey
    public var presharedKey: PresharedKey?
    /// Cryptokey routing: packets to these networks go to this peer, and only packets from
    /// them are accepted from it.
    public var allowedIPs: [IPPrefix]
    /// nil means we wait for the peer to contact us first.
    public var endpoint: Endpoint?
    /// Seconds between keepalives to hold NAT mappings open; 0 = off.
    public var persistentKeepalive: Int?

    public init(publicKey: PublicKey, presharedKey: PresharedKey? = nil, allowedIPs: [IPPrefix] = [],
                endpoint: Endpoint? = nil, persistentKeepalive: Int? = nil) {
        self.publicKey = publicKey
        self.presharedKey = presharedKey
        self.allowedIPs = allowedIPs
        self.endpoint = endpoint
        self.persistentKeepalive = persistentKeepalive
    }
}

extension TunnelConfig {
    /// Writes the configuration in the syntax `TunnelConfigParser.parse` reads, so a
    /// parsed-then-rendered file parses back to the same value. Warnings are not written:
    /// the ignored keys they describe were never part of the model.
    public func render() -> String {
        var lines: [String] = ["[Interface]", "PrivateKey = \(interface.privateKey.base64)"]
        if !interface.addresses.isEmpty {
            lines.append("Address = " + interface.addresses.map(\.description).joined(separator: ", "))
        }
        if let port = interface.listenPort { lines.append("ListenPort = \(port)") }
        if let mtu = interface.mtu { lines.append("MTU = \(mtu)") }
        for peer in peers {
            lines.append("")
            lines.append("[Peer]")
            lines.append("PublicKey = \(peer.publicKey.base64)")
            if let psk = peer.presharedKey { lines.append("PresharedKey = \(psk.base64)") }
            if !peer.allowedIPs.isEmpty {
                lines.append("AllowedIPs = " + peer.allowedIPs.map(\.description).joined(separator: ", "))
            }
            if let endpoint = peer.endpoint { lines.append("Endpoint = \(endpoint)") }
            if let keepalive = peer.persistentKeepalive { lines.append("PersistentKeepalive = \(keepalive)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
