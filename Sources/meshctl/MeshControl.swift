import ArgumentParser
import Foundation
import MeshStatus

@main
struct MeshControl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshctl",
        abstract: "Inspect and control the local meshd.",
        subcommands: [Status.self]
    )
}

struct SocketOption: ParsableArguments {
    @Option(name: .long, help: "meshd's unix socket.")
    var socket: String = "/run/mesh/meshd.sock"
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show this node and its peers.")
    @OptionGroup var options: SocketOption
    @Flag(name: .long, help: "Print the raw JSON.")
    var json = false

    func run() throws {
        let reply = try LocalAPIClient(socketPath: options.socket).request("status")
        if json {
            print(String(decoding: reply, as: UTF8.self), terminator: "")
            return
        }
        let decoder = JSONDecoder()
        if let failure = try? decoder.decode(LocalAPIError.self, from: reply) {
            throw CommandFailure("meshd: \(failure.error)")
        }
        let status: NodeStatus
        do { status = try decoder.decode(NodeStatus.self, from: reply) } catch {
            throw CommandFailure("meshd sent an answer this meshctl cannot read (\(error)); are both the same version?")
        }
        print(StatusTable.render(status))
    }
}
