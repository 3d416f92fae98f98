import ArgumentParser
import MeshLocalAPI
import MeshStatus

/// `meshctl ip [-4|-6] [PEER]`: overlay addresses, one per line (this node's, or a peer's).
struct IP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ip", abstract: "Print this node's overlay addresses, or a peer's (by name, address or key).")
    @OptionGroup var options: SocketOption
    @OptionGroup var output: JSONFlag
    @Flag(name: .customShort("4"), help: "Only the IPv4 address.")
    var ipv4Only = false
    @Flag(name: .customShort("6"), help: "Only the IPv6 address.")
    var ipv6Only = false
    @Argument(help: "A peer's name, overlay address or key (default: this node).")
    var peer: String?

    func validate() throws {
        if ipv4Only && ipv6Only { throw ValidationError("-4 and -6 exclude each other") }
    }

    func run() throws {
        let status = try options.client.call(.status, as: NodeStatus.self)
        let answer: AddressAnswer
        do {
            let match = try peer.map { try PeerLookup.find($0, in: status) } ?? .this
            answer = try AddressAnswer(match, in: status, family: ipv4Only ? .ipv4 : ipv6Only ? .ipv6 : .both)
        } catch let e as PeerLookupError {
            throw CommandFailure(e.description)
        }
        if output.json { return try JSONOutput.print(answer) }
        for line in answer.lines { print(line) }
    }
}
