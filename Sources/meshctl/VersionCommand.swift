import ArgumentParser
import MeshLocalAPI

/// `meshctl version`: this meshctl's version, and the running meshd's when it can be asked.
struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print meshctl's version and the running meshd's.")
    @OptionGroup var options: SocketOption
    @OptionGroup var output: JSONFlag

    func run() throws {
        var report = VersionReport(meshctl: MeshVersion.string, meshd: nil)
        do {
            report.meshd = try options.client.call(.version, as: DaemonVersion.self, wait: .seconds(3)).version
        } catch let failure as CommandFailure {
            report.meshdError = failure.description
        }
        if output.json { return try JSONOutput.print(report) }
        print("meshctl \(report.meshctl)")
        print(report.meshd.map { "meshd \($0)" } ?? "meshd: \(report.meshdError ?? "unknown")")
    }
}
