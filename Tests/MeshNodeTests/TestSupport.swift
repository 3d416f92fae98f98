import CoordinatorServer
import Foundation
import Logging
import MeshCrypto
import MeshHTTP
import MeshNode
import MeshTestSupport
import MeshWire

extension TestCoordinator {
    func removeNode(_ id: Int64) async throws {
        let r = try await adminCall("DELETE", "/v1/nodes/\(id)")
        guard r.status == 200 else { throw StateError("node remove: HTTP \(r.status) \(r.text)") }
    }
}

/// A node as meshd runs it, minus the TUN: its state dir, control loop and a collected log of diffs.
final class TestMeshNode: @unchecked Sendable {
    let dir: StateDirectory
    let keyBytes: [UInt8]
    let loop: ControlLoop
    private let lock = NSLock()
    private var _diffs: [PeerDiff] = []
    var diffs: [PeerDiff] { lock.withLock { _diffs } }

    /// `restore`: start from the netmap the state dir holds, as meshd does on a restart.
    init(name: String, token: JoinToken?, dir: StateDirectory, endpoints: [String] = [], restore: Bool = false) throws {
        self.dir = dir
        keyBytes = try dir.loadOrCreateNodeKey()
        let saved = try dir.loadRegistration()
        let url = token?.coordinatorURL ?? saved!.coordinatorURL
        let key = token?.coordinatorKeyBytes ?? saved!.coordinatorKeyBytes!
        let client = try ControlClient(coordinatorURL: url, coordinatorKeyBytes: key, nodeKeyBytes: keyBytes)
        var entropy = SodiumEntropy()
        var options = ControlLoop.Options(hostname: name, discoKey: PrivateKey.generate(using: &entropy).publicKey.base64,
                                          authSecret: token?.authSecret)
        options.backoff = Backoff(initial: .milliseconds(50), maximum: .milliseconds(500))
        var logger = Logger(label: "test-node-\(name)")
        logger.logLevel = .critical
        let restored = try restore ? saved.flatMap { try dir.loadNetmap(for: $0) } : nil
        loop = ControlLoop(client: client, options: options, logger: logger, restoring: restored)
        let keyText = Base64.encode(key)
        loop.onRegistered = { r in
            try? dir.saveRegistration(SavedRegistration(coordinatorURL: url, coordinatorKey: keyText, response: r, registeredAt: 0))
        }
        loop.onNetmapChanged = { netmap in
            guard let r = try? dir.loadRegistration() else { return }
            try? dir.saveNetmap(netmap, for: r, now: 0)
        }
        loop.endpoints = { endpoints }
        loop.onPeers = { [weak self] diff, _ in
            guard let self else { return }
            self.lock.withLock { self._diffs.append(diff) }
        }
    }

    var peerIDs: Set<Int64> { Set(loop.status.netmap.peers.keys) }
}
