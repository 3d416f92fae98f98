import ArgumentParser
import Foundation
import MeshLocalAPI
import MeshStatus

@main
struct MeshControl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshctl",
        abstract: "Inspect and control the local meshd.",
        discussion: "Reading (status, ip, whois, ping, netcheck, metrics, version) needs root or membership in the group 'mesh'; down, up and logout need root. Every command takes --json (schemas: docs/meshctl.md).",
        version: MeshVersion.string,
        subcommands: [Status.self, Version.self, IP.self, WhoIs.self, Ping.self, Netcheck.self, Metrics.self,
                      Down.self, Up.self, Logout.self]
    )
}

struct SocketOption: ParsableArguments {
    @Option(name: .long, help: "meshd's unix socket.")
    var socket: String = "/run/mesh/meshd.sock"

    var client: LocalAPIClient { LocalAPIClient(socketPath: socket) }
}

struct JSONFlag: ParsableArguments {
    @Flag(name: .long, help: "Print JSON (a stable schema, see docs/meshctl.md).")
    var json = false
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show this node and its peers.")
    @OptionGroup var options: SocketOption
    @OptionGroup var output: JSONFlag
    @Flag(name: .long, help: "Show whole public keys instead of their short form.")
    var keys = false

    func run() throws {
        let status = try options.client.call(.status, as: NodeStatus.self)
        if output.json { return try JSONOutput.print(status) }
        print(StatusTable.render(status, keys: keys))
    }
}
