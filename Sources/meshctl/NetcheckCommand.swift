import ArgumentParser
import MeshLocalAPI

/// `meshctl netcheck`: what the daemon's own STUN probing (from the UDP socket peers reach it
/// on, to the STUN servers of the relays the coordinator lists) says about this network.
struct Netcheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Report UDP reachability, the public endpoint, the NAT type and the latency to each relay.")
    @OptionGroup var options: SocketOption
    @OptionGroup var output: JSONFlag

    func run() throws {
        let answer = try options.client.call(.netcheck, as: NetcheckAnswer.self, wait: .seconds(5))
        if output.json { return try JSONOutput.print(answer) }
        for line in answer.lines { print(line) }
    }
}
