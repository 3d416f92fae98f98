extension UDPAddress {
    /// The socket address of a parsed `Endpoint` (its address is always 4 or 16 bytes).
    public init(_ endpoint: Endpoint) {
        self.init(addressBytes: endpoint.address.networkBytes, port: endpoint.port)!
    }
}
