import ArgumentParser
import MeshLocalAPI

/// `meshctl down`: the tunnel off (no overlay traffic either way); the node stays registered.
struct Down: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Take the tunnel down; the node stays registered (needs root).")
    @OptionGroup var options: SocketOption
    @OptionGroup var output: JSONFlag
    func run() throws { try StateChange.run(.down, options, output) }
}

/// `meshctl up`: the tunnel on again after `down`.
struct Up: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Bring the tunnel back up after `meshctl down` (needs root).")
    @OptionGroup var options: SocketOption
    @OptionGroup var output: JSONFlag
    @Option(name: .customLong("join-file"), help: "A join token file: only meshd reads it, when it starts (`meshd up --join-file FILE`).")
    var joinFile: String?

    func run() throws {
        if let joinFile {
            // Joining happens as meshd starts (it must check TUN, port and socket before it
            // spends the key); a running meshd already has its registration.
            throw CommandFailure("a join token is read by meshd as it starts: run `meshd up --join-file \(joinFile)` (or put join-file in its config) instead of meshctl up")
        }
        try StateChange.run(.up, options, output)
    }
}

/// `meshctl logout`: leave the network (the coordinator expires the node); meshd then stops.
struct Logout: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Leave the network; meshd stops, and joining again needs a new auth key (needs root).")
    @OptionGroup var options: SocketOption
    @OptionGroup var output: JSONFlag
    func run() throws { try StateChange.run(.logout, options, output) }
}

enum StateChange {
    static func run(_ request: LocalAPIRequest, _ options: SocketOption, _ output: JSONFlag) throws {
        // Logout waits for the coordinator (up to 15 s).
        let reply = try options.client.call(request, as: StateChangeReply.self, wait: .seconds(20))
        if output.json { return try JSONOutput.print(reply) }
        print(reply.sentence)
    }
}
