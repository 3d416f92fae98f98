import ArgumentParser
import Foundation

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
        guard let object = try? JSONSerialization.jsonObject(with: reply) as? [String: Any] else {
            throw CommandFailure("meshd sent an unreadable answer")
        }
        if let error = object["error"] as? String { throw CommandFailure("meshd: \(error)") }
        print(StatusTable.render(object))
    }
}
