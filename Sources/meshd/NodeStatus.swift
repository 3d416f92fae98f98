/// What `meshctl status` shows; the JSON shape is the local API's contract.
struct NodeStatus: Codable {
    struct PeerStatus: Codable {
        var publicKey: String
        var endpoint: String?
        var lastHandshakeSecondsAgo: Int?
        var rxBytes: UInt64
        var txBytes: UInt64
        var persistentKeepalive: Int?
    }
    var interface: String
    var publicKey: String
    var listenPort: Int
    var droppedDatagrams: Int
    var drops: [String: Int]
    var peers: [PeerStatus]
}
