import ArgumentParser
import MeshLocalAPI

/// `meshctl metrics`: the daemon's counters in the Prometheus text format (for a textfile
/// collector, or to read by eye).
struct Metrics: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print meshd's counters in the Prometheus text format.")
    @OptionGroup var options: SocketOption
    @OptionGroup var output: JSONFlag

    func run() throws {
        let families = try options.client.call(.metrics, as: [MetricFamily].self)
        if output.json { return try JSONOutput.print(families) }
        print(PrometheusText.render(families), terminator: "")
    }
}
