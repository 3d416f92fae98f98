import Disco
import Foundation
import MagicSock
import MeshCrypto
import MeshIO
import WireGuard

/// Two MagicSocks joined by an in-memory network: UDP between their addresses (which can be
/// cut, like a firewall rule) and a relay that always delivers. Time is a manual clock that
/// both sides read (the one given to `steer` and `tick`, and the one `pathStatus` reads itself),
/// and each side's randomness is seeded, so a run is a function of its seed and its inputs
/// alone. Everything either side sends is recorded in order.
final class TwoNodes: @unchecked Sendable {
    struct Packet: Equatable {
        var bytes: [UInt8]
        var from: UDPAddress
        var to: UDPAddress?
        var relayTo: PublicKey?
        var sentAt: MonotonicTime
    }

    /// The time both nodes see; it moves only when the test moves it.
    final class ManualClock: @unchecked Sendable {
        private let lock = NSLock()
        private var value: MonotonicTime
        init(_ start: MonotonicTime) { value = start }
        var now: MonotonicTime {
            get { lock.lock(); defer { lock.unlock() }; return value }
            set { lock.lock(); value = newValue; lock.unlock() }
        }
    }

    /// The wire: what the two sides have sent and not yet been delivered, and everything ever sent.
    final class Wire: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [Packet] = []
        private var log: [Packet] = []
        func append(_ p: Packet) { lock.lock(); items.append(p); log.append(p); lock.unlock() }
        func drain() -> [Packet] { lock.lock(); defer { items.removeAll(); lock.unlock() }; return items }
        var isEmpty: Bool { lock.lock(); defer { lock.unlock() }; return items.isEmpty }
        var sent: [Packet] { lock.lock(); defer { lock.unlock() }; return log }
    }

    let addrA = UDPAddress(ipv4: 203, 0, 113, 11, port: 41641)
    let addrB = UDPAddress(ipv4: 203, 0, 113, 12, port: 41641)
    let queue = Wire()
    let clock = ManualClock(MonotonicTime(nanoseconds: 1_000_000_000))
    let timings: PathTimings
    var a: MagicSock!
    var b: MagicSock!
    var peerBAtA: Peer!
    var peerAAtB: Peer!
    /// The disco keys, so a test can open what was sent and see which message it was.
    private(set) var discoA: PrivateKey!
    private(set) var discoB: PrivateKey!
    var udpWorks = true
    var now: MonotonicTime {
        get { clock.now }
        set { clock.now = newValue }
    }

    /// `seed` drives the two MagicSocks' randomness (A's and B's streams differ); the keys are
    /// the same for every seed.
    init(seed: UInt64 = 1, timings: PathTimings = .standard) throws {
        _ = Sodium.isReady
        self.timings = timings
        var e = SeededEntropy(seed: 42)
        let nodeA = PrivateKey.generate(using: &e), nodeB = PrivateKey.generate(using: &e)
        let discoA = PrivateKey.generate(using: &e), discoB = PrivateKey.generate(using: &e)
        self.discoA = discoA
        self.discoB = discoB
        let devA = Device(privateKey: nodeA), devB = Device(privateKey: nodeB)
        peerBAtA = try devA.addPeer(publicKey: nodeB.publicKey, now: now)
        peerAAtB = try devB.addPeer(publicKey: nodeA.publicKey, now: now)
        let (aAddr, bAddr, clock) = (addrA, addrB, clock)
        a = MagicSock(discoKey: discoA, nodeKey: nodeA.publicKey, timings: timings,
                      sendUDP: { [queue] bytes, to in
                          queue.append(Packet(bytes: bytes, from: aAddr, to: to, sentAt: clock.now))
                      },
                      sendRelay: { [queue] key, bytes in
                          queue.append(Packet(bytes: bytes, from: aAddr, relayTo: key, sentAt: clock.now))
                      },
                      entropy: SeededEntropy(seed: seed), clock: { clock.now })
        b = MagicSock(discoKey: discoB, nodeKey: nodeB.publicKey, timings: timings,
                      sendUDP: { [queue] bytes, to in
                          queue.append(Packet(bytes: bytes, from: bAddr, to: to, sentAt: clock.now))
                      },
                      sendRelay: { [queue] key, bytes in
                          queue.append(Packet(bytes: bytes, from: bAddr, relayTo: key, sentAt: clock.now))
                      },
                      entropy: SeededEntropy(seed: seed &+ 0x5EED), clock: { clock.now })
        a.setPeers([.init(nodeKey: nodeB.publicKey, discoKey: discoB.publicKey, endpoints: [addrB], wireGuardPeer: peerBAtA)])
        b.setPeers([.init(nodeKey: nodeA.publicKey, discoKey: discoA.publicKey, endpoints: [addrA], wireGuardPeer: peerAAtB)])
        a.setOwnEndpoints([addrA])
        b.setOwnEndpoints([addrB])
    }

    /// Delivers everything queued (and what that triggers), 1 ms per hop. With `udpWorks`
    /// false, direct datagrams are lost; relayed ones still arrive.
    func deliverAll() {
        for _ in 0..<50 {
            let batch = queue.drain()
            if batch.isEmpty { return }
            now = now + .milliseconds(1)
            for p in batch {
                let toA = p.relayTo == a.nodeKey || p.to == addrA
                let target: MagicSock = toA ? a : b
                if p.relayTo != nil {
                    _ = target.receiveFromRelay(p.bytes, from: toA ? b.nodeKey : a.nodeKey, now: now)
                } else if udpWorks {
                    p.bytes.withUnsafeBytes { target.receive($0, kind: .disco, from: p.from, now: now) }
                }
            }
        }
    }

    /// What A steers a datagram for B to now (the data plane asks this for every packet).
    func steerAtA() -> SteeringDecision { a.steer(peer: peerBAtA, endpoint: addrB, now: now) }

    /// One step of a node with traffic flowing: A sends a datagram (and, when it went direct and
    /// UDP works, B's answer comes back the same way), both run their timers, the network
    /// delivers, then the clock moves by `step`. Returns where A's datagram went.
    @discardableResult
    func step(_ step: Duration) -> SteeringDecision {
        let decision = steerAtA()
        switch decision {
        case .direct(let d), .both(let d):
            if udpWorks { a.noteReceived(from: peerBAtA, source: d, now: now) }
        default: break
        }
        a.tick(now: now)
        b.tick(now: now)
        deliverAll()
        now = now + step
        return decision
    }

    /// The disco message in a packet A sent (opened with B's key), or B sent (with A's).
    func message(in p: Packet) -> DiscoMessage? {
        let receiver: PrivateKey = p.from == addrA ? discoB : discoA
        return try? DiscoPacket.open(p.bytes, with: receiver).message
    }
}

/// A steering decision as the tests compare it (the data plane's type is not Equatable).
enum Steering: Equatable, CustomStringConvertible {
    case direct(UDPAddress), both(UDPAddress), relay, drop
    init(_ d: SteeringDecision) {
        switch d {
        case .direct(let a): self = .direct(a)
        case .both(let a): self = .both(a)
        case .relay: self = .relay
        case .drop: self = .drop
        }
    }
    var description: String {
        switch self {
        case .direct(let a): "direct \(a)"
        case .both(let a): "both \(a)"
        case .relay: "relay"
        case .drop: "drop"
        }
    }
}
