import ArgumentParser
import Foundation
import Logging
import MeshConfig
import MeshCrypto
import MeshEngine
import MeshIO
import MeshLocalAPI
import WireGuard

@main
struct MeshDaemon: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshd",
        abstract: "The mesh node daemon: a WireGuard-compatible tunnel on a TUN device.",
        version: MeshVersion.string,
        subcommands: [Run.self, Up.self, GenerateKey.self, PublicKeyCommand.self],
        defaultSubcommand: Run.self
    )
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the tunnel from a wg-quick-style config file (standalone mode, no coordinator)."
    )

    @Option(name: .long, help: "wg-quick-style config file: [Interface] and [Peer] sections.")
    var config: String

    @Option(name: .long, help: "TUN device name.")
    var interface: String = "mesh0"

    @Option(name: .long, help: "Unix socket for meshctl.")
    var socket: String = LocalAPI.defaultSocketPath

    @Option(name: .customLong("wireguard-socket-dir"),
            help: "Directory of the WireGuard UAPI socket <interface>.sock that `wg show` reads (read-only; \"\": none).")
    var wireGuardSocketDirectory: String = WireGuardUAPIServer.defaultDirectory

    @Flag(name: .long, help: "Log handshakes and other details.")
    var verbose = false

    func run() throws {
        let logger = DaemonStartup.begin(verbose: verbose)
        let startup = StartupInterruptGuard { logger.info("meshd stopped during start-up") }

        let parsed: TunnelConfig
        do { parsed = try TunnelConfigParser.load(path: config) } catch {
            throw CommandFailure("\(error)")
        }
        for warning in parsed.warnings { logger.warning("\(warning)") }
        let node: StandaloneNode
        do {
            node = try StandaloneNode(config: parsed, interfaceName: interface, socketPath: socket,
                                      wireGuardSocketDirectory: wireGuardSocketDirectory, logger: logger,
                                  interrupted: SignalWaiter.terminationPending)
        } catch is Interrupted {
            logger.info("meshd stopped during start-up")
            return
        }
        try node.start()
        startup.finish()
        logger.info("meshd up: interface \(node.tun.name), listening on UDP \(node.udp.port), public key \(node.device.publicKey)")
        SignalWaiter.waitForTermination()
        node.stop()
        logger.info("meshd stopped")
    }
}

struct GenerateKey: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "genkey", abstract: "Print a new private key (base64), like `wg genkey`.")
    func run() {
        var entropy = SystemEntropy()
        print(PrivateKey.generate(using: &entropy).base64)
    }
}

struct PublicKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pubkey", abstract: "Read a private key on stdin, print its public key, like `wg pubkey`.")
    func run() throws {
        guard let line = readLine(strippingNewline: true) else { throw ValidationError("expected a private key on standard input") }
        do {
            let key = try PrivateKey(base64: line.trimmingCharacters(in: .whitespaces))
            print(key.publicKey.base64)
        } catch {
            throw CommandFailure("invalid private key: \(error)")
        }
    }
}
