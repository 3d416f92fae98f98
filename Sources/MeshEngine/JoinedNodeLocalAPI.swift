import Foundation
import MagicSock
import MeshBase
import MeshCrypto
import MeshIO
import MeshLocalAPI
import MeshNode
import MeshStatus
import Synchronization

extension JoinedNode {
    /// Everything `meshctl` can ask of a node in mesh mode beyond its status: metrics, disco
    /// pings, netcheck, taking the tunnel down and up, and leaving the network.
    public func localAPIServices() -> LocalAPIServices {
        let tunnel = TunnelSwitch()
        let counters = dataPlane.counters
        var services = LocalAPIServices()
        services.counters = {
            NodeMetrics.Counters(receivedDatagrams: counters.receivedDatagrams.load(ordering: .relaxed),
                                 packetsToTunnel: counters.packetsToTunnel.load(ordering: .relaxed),
                                 packetsFromTunnel: counters.packetsFromTunnel.load(ordering: .relaxed))
        }
        services.tunnelUp = { !tunnel.isDown }
        services.ping = { [weak self] peer, timeout, done in
            guard let self else { return done(.failure(LocalAPIError(error: "meshd is stopping"))) }
            if tunnel.isDown {
                return done(.failure(LocalAPIError(error: "the tunnel is down (meshctl down); run `meshctl up` first")))
            }
            self.ping(peer, timeout: timeout, done: done)
        }
        services.netcheck = { [weak self] done in
            guard let self else { return done(.failure(LocalAPIError(error: "meshd is stopping"))) }
            let relays = self.status().relays ?? []
            done(.success(NetcheckAnswer(report: self.paths.netcheck, relays: relays)))
        }
        services.down = { [weak self] in
            guard let self else { return .failure(LocalAPIError(error: "meshd is stopping")) }
            return tunnel.set(down: true) {
                try self.setTunnel(up: false)
                self.tunnelHooks.switched(up: false)
            }
        }
        services.up = { [weak self] in
            guard let self else { return .failure(LocalAPIError(error: "meshd is stopping")) }
            return tunnel.set(down: false) {
                try self.setTunnel(up: true)
                self.tunnelHooks.switched(up: true)
            }
        }
        services.logout = { [weak self] done in
            guard let self else { return done(.failure(LocalAPIError(error: "meshd is stopping"))) }
            let control = self.control, paths = self.paths, logger = self.logger
            Task {
                do {
                    try await control.logout()
                } catch {
                    return done(.failure(LocalAPIError(error: "the coordinator did not take the logout, so this node is still part of the network: \(error)")))
                }
                logger.notice("logged out: this node left the network; meshd stops")
                control.stop()
                // What a removal by the coordinator does: paths stop, and meshd forgets the
                // registration and netmap it saved (the node key stays), so the next start
                // asks for a join token instead of reusing an identity the coordinator expired.
                if let removed = control.onRemoved {
                    removed(.refused(status: 410, body: nil, raw: "this node logged out"))
                } else {
                    paths.stop()
                }
                done(.success(StateChangeReply(state: .loggedOut, changed: true)))
            }
        }
        // The main thread waits for SIGTERM (SignalWaiter): the daemon stops the usual way.
        services.afterLogout = { kill(getpid(), SIGTERM) }
        return services
    }

    /// One `meshctl ping`: disco Pings to the peer now, answered by the first Pong or the timeout.
    func ping(_ query: String, timeout: Duration, done: @escaping LocalAPIServices.Done<PingReply>) {
        let status = self.status()
        let peer: NodeStatus.PeerStatus
        do {
            switch try PeerLookup.find(query, in: status) {
            case .this: return done(.failure(LocalAPIError(error: "'\(query)' is this node itself; ping a peer")))
            case .peer(let p): peer = p
            }
        } catch {
            return done(.failure(LocalAPIError(error: error.description)))
        }
        guard let key = try? PublicKey(base64: peer.publicKey) else {
            return done(.failure(LocalAPIError(error: "the peer's key in the netmap is not a key")))
        }
        let timeoutMs = Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let base = PingReply(peer: peer.name ?? KeyShortForm.of(peer.publicKey), key: KeyShortForm.of(peer.publicKey),
                             ip: peer.ipv4 ?? peer.ipv6, answered: false, timeoutMs: timeoutMs)
        let relay = peer.homeRelay ?? paths.relays.home
        let once = AnswerOnce(done)
        let magic = paths.magic
        let started = magic.pingNow(peer: key, now: SystemClock.now()) { answer in
            var reply = base
            reply.answered = true
            reply.latencyMs = NetcheckAnswer.milliseconds(answer.latency)
            if let via = answer.via {
                reply.path = .direct
                reply.endpoint = via.description
            } else {
                reply.path = .relay
                reply.relay = relay
            }
            once.answer(.success(reply))
        }
        switch started {
        case .started(let request, _, _):
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(timeoutMs)) {
                magic.cancelPing(request)
                once.answer(.success(base))
            }
        case .unknownPeer:
            done(.failure(LocalAPIError(error: "\(base.peer) is in the netmap but not yet known to the path layer; try again in a moment")))
        case .noPath:
            done(.failure(LocalAPIError(error: "no way to reach \(base.peer): it publishes no endpoint and no relay is connected")))
        case .busy:
            done(.failure(LocalAPIError(error: "too many pings are waiting for an answer; try again in a moment")))
        }
    }

    /// Takes the TUN link down, or up again with the registration's addresses and routes (the
    /// kernel drops the routes, and the IPv6 address, when a link goes down).
    func setTunnel(up: Bool) throws {
        try InterfaceLink.set(tun.name, up: up)
        guard up else { return }
        // An address the link kept answers EEXIST; IPv6 may be off on this host (as at start).
        func restore(_ text: String, length: Int) -> Bool {
            guard let a = try? IPAddress(text) else { return false }
            do { try tun.addAddress(a.networkBytes, prefixLength: length) } catch let e as SystemError where e.code == EEXIST {
            } catch { return false }
            return true
        }
        let v4 = restore(registration.ipv4, length: 32), v6 = restore(registration.ipv6, length: 128)
        for (prefix, configured) in [(registration.ipv4Prefix, v4), (registration.ipv6Prefix, v6)] where configured {
            guard let p = try? IPPrefix(prefix).masked else { continue }
            do { try tun.addRoute(p.address.networkBytes, prefixLength: p.length) } catch {
                logger.warning("route for \(prefix) not restored: \(error)")
            }
        }
    }
}

/// Whether `meshctl down` took the tunnel down; changes are serialised so two requests cannot
/// interleave their link changes.
final class TunnelSwitch: Sendable {
    private let down = Mutex(false)
    var isDown: Bool { down.withLock { $0 } }

    func set(down wanted: Bool, _ apply: () throws -> Void) -> Result<StateChangeReply, LocalAPIError> {
        down.withLock { current in
            let state: StateChangeReply.State = wanted ? .down : .up
            guard current != wanted else { return .success(StateChangeReply(state: state, changed: false)) }
            do { try apply() } catch {
                return .failure(LocalAPIError(error: "cannot take the tunnel \(wanted ? "down" : "up"): \(error)"))
            }
            current = wanted
            return .success(StateChangeReply(state: state, changed: true))
        }
    }
}

/// Hands a result on once: the first of the Pong and the timeout wins.
final class AnswerOnce<T: Sendable>: Sendable {
    private let done: Mutex<LocalAPIServices.Done<T>?>
    init(_ done: @escaping LocalAPIServices.Done<T>) { self.done = Mutex(done) }
    func answer(_ result: Result<T, LocalAPIError>) {
        let taken = done.withLock { slot -> LocalAPIServices.Done<T>? in
            let first = slot
            slot = nil
            return first
        }
        taken?(result)
    }
}
