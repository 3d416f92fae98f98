/// Why text failed to parse as an endpoint; carries the input so messages can quote it.
public struct EndpointParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public var input: String
    public var reason: String

    public init(input: String, reason: String) {
        self.input = input
        self.reason = reason
    }

    public var description: String { "'\(input)' is not a valid endpoint: \(reason)" }
}

/// A peer's UDP address. Only literal IPs: resolving a hostname needs the network and a
/// clock (re-resolution), which belong in the I/O layer, not in a pure config parser.
public struct Endpoint: Hashable, Sendable {
    public var address: IPAddress
    public var port: UInt16

    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// Parses "1.2.3.4:51820" or "[fd00::1]:51820".
    public init(_ text: some StringProtocol) throws(EndpointParseError) {
        let input = String(text)
        let fail = { (reason: String) in EndpointParseError(input: input, reason: reason) }
        let hostText: Substring
        let portText: Substring
        if input.hasPrefix("[") {
            guard let close = input.firstIndex(of: "]") else { throw fail("missing ']' after IPv6 address") }
            hostText = input[input.index(after: input.startIndex)..<close]
            let rest = input[input.index(after: close)...]
            guard rest.hasPrefix(":") else { throw fail("missing ':port' after ']'") }
            portText = rest.dropFirst()
        } else {
            let colons = input.filter { $0 == ":" }.count
            if colons > 1 { throw fail("IPv6 endpoints need brackets, as in [fd00::1]:51820") }
            guard colons == 1, let colon = input.firstIndex(of: ":") else { throw fail("missing ':port'") }
            hostText = input[..<colon]
            portText = input[input.index(after: colon)...]
        }

        let address: IPAddress
        do {
            address = try IPAddress(hostText)
        } catch {
            if hostText.isEmpty { throw fail("missing address before ':port'") }
            if hostText.unicodeScalars.contains(where: { $0.properties.isAlphabetic }) && !hostText.contains(":") {
                throw fail("hostnames are not supported, use an IP address")
            }
            throw fail(error.description)
        }
        if input.hasPrefix("["), address.isV4 {
            throw fail("brackets are only for IPv6 addresses")
        }

        guard !portText.isEmpty else { throw fail("missing port after ':'") }
        guard portText.utf8.allSatisfy(isDecimalDigit) else { throw fail("port '\(portText)' is not a number") }
        guard portText.utf8.count <= 5, let port = Int(portText), (1...65535).contains(port) else {
            throw fail("port \(portText) is outside 1...65535")
        }
        self.address = address
        self.port = UInt16(port)
    }
}

extension Endpoint: CustomStringConvertible {
    /// The form `init` accepts: IPv6 in brackets.
    public var description: String {
        address.isV4 ? "\(address):\(port)" : "[\(address)]:\(port)"
    }
}
