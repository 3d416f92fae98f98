import ArgumentParser
import Foundation
import MeshLocalAPI

/// `meshctl ping PEER`: disco Pings through the daemon, one line per reply with the path the
/// Pong came back on and the round trip. Exit status 0 when some Pong came back (with
/// `--until-direct`: a direct one), 1 otherwise.
struct Ping: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ping a peer with disco pings through meshd: path (direct or relay) and latency of each reply.")
    @OptionGroup var options: SocketOption
    @OptionGroup var output: JSONFlag
    @Argument(help: "The peer: its name, overlay address or key.")
    var peer: String
    @Option(name: .customShort("c"), help: "How many pings (default 10 with --until-direct, else 4).")
    var count: Int?
    @Flag(name: .customLong("until-direct"), help: "Stop at the first reply over a direct path; fail if none came.")
    var untilDirect = false
    @Option(name: .long, help: "How long to wait for each reply, in seconds (0.1 to 30).")
    var timeout: Double = 2
    @Option(name: .long, help: "Seconds between the start of one ping and the next (0 to 10).")
    var interval: Double = 1

    func validate() throws {
        if let count, !(1...1000).contains(count) { throw ValidationError("-c must be 1 to 1000") }
        if !(timeout >= 0.1 && timeout <= 30) { throw ValidationError("--timeout must be 0.1 to 30 seconds") }
        if !(interval >= 0 && interval <= 10) { throw ValidationError("--interval must be 0 to 10 seconds") }
    }

    func run() throws {
        let count = self.count ?? (untilDirect ? 10 : 4)
        let timeoutMs = Int((timeout * 1000).rounded())
        var replies: [PingReply] = []
        while true {
            let started = Date()
            let reply = try options.client.call(.ping(peer: peer, timeoutMilliseconds: timeoutMs), as: PingReply.self,
                                                wait: .seconds(Int64(timeout.rounded(.up)) + 5))
            replies.append(reply)
            if !output.json {
                // One line as each reply comes (stdout is not line-buffered into a pipe).
                FileHandle.standardOutput.write(Data((reply.line + "\n").utf8))
            }
            if PingSummary.shouldStop(after: replies, count: count, untilDirect: untilDirect) { break }
            let rest = interval - Date().timeIntervalSince(started)
            if rest > 0 { usleep(useconds_t(rest * 1_000_000)) }
        }
        let summary = PingSummary(peer: replies.first?.peer ?? peer, replies: replies)
        if output.json { try JSONOutput.print(summary) }
        guard summary.succeeded(untilDirect: untilDirect) else {
            if untilDirect && summary.answered > 0 {
                throw CommandFailure("\(summary.peer) answered only through a relay in \(summary.sent) pings: no direct path yet")
            }
            throw CommandFailure("\(summary.peer) did not answer any of \(summary.sent) pings")
        }
    }
}
