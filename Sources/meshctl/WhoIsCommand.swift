import ArgumentParser
import MeshBase
import MeshLocalAPI
import MeshStatus

/// `meshctl whois IP`: the node that holds an overlay address, with its user and tags; a peer
/// the access policy hides from this node is named as hidden (with what this node last knew).
struct WhoIs: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "whois", abstract: "Show which node has an overlay address.")
    @OptionGroup var options: SocketOption
    @OptionGroup var output: JSONFlag
    @Argument(help: "An overlay address (IPv4 or IPv6).")
    var ip: String

    func run() throws {
        guard (try? IPAddress(ip)) != nil else { throw CommandFailure("'\(ip)' is not an IP address") }
        let status = try options.client.call(.status, as: NodeStatus.self)
        let answer: WhoIsAnswer
        do { answer = WhoIsAnswer(try PeerLookup.find(ip, in: status), in: status) } catch {
            guard let absent = PeerLookup.absent(ip, in: status) else { throw CommandFailure("\(error)") }
            answer = WhoIsAnswer(absent: absent)
        }
        if output.json { return try JSONOutput.print(answer) }
        for line in answer.lines { print(line) }
    }
}
