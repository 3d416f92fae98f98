// The node's relay client state machine (Relay/RelayClientCore.swift) on frames from a relay.
// First byte, bit 0: first complete a real handshake with a RelayServerCore (fixed keys), so the
// connected state is reached; bit 1: pin the server key. The rest is a script: raw stream bytes
// through the frame decoder into the client, clock advances with tick, pings and sends.
import MeshCrypto
import MeshWire
import Relay
import WireGuard

private let serverKey = try! PrivateKey(rawBytes: fixedKeyBytes(5))
private let serverPublic = serverKey.publicKey
private let clientKey = try! PrivateKey(rawBytes: fixedKeyBytes(6))
private let unixNow: Int64 = 1_700_000_000

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var r = FuzzReader(data, size)
    let mode = r.u8()
    var entropy = SeededEntropy(seed: 13)
    var now = MonotonicTime(nanoseconds: 1_000_000_000)
    var client = RelayClientCore(privateKey: clientKey,
                                 config: RelayClientConfig(pinnedServerKey: mode & 2 != 0 ? serverPublic : nil), now: now)
    if mode & 1 != 0 {
        var server = RelayServerCore(privateKey: serverKey, authorize: { _ in true })
        let (id, _) = server.accept(now: now)
        var toServer: [RelayFrame] = []
        for f in server.dequeueAll(id) {
            guard let events = try? client.receive(f, now: now, unixTime: unixNow, entropy: &entropy) else {
                fatalError("client refused the real ServerKey")
            }
            for case .send(let out) in events { toServer.append(out) }
        }
        for f in toServer { _ = server.receive(f, from: id, now: now, unixTime: unixNow, entropy: &entropy) }
        for f in server.dequeueAll(id) {
            _ = try? client.receive(f, now: now, unixTime: unixNow, entropy: &entropy)
        }
        guard client.isConnected else { fatalError("real handshake did not connect") }
    }
    var decoder = RelayFrameDecoder()
    var steps = 0
    while !r.isAtEnd && steps < 64 {
        steps += 1
        switch r.u8() % 4 {
        case 0, 1:
            decoder.append(r.chunk())
            while true {
                do {
                    guard let f = try decoder.next() else { break }
                    _ = try client.receive(f, now: now, unixTime: unixNow, entropy: &entropy)
                } catch {
                    return 0  // the driver drops the connection
                }
            }
        case 2:
            now = now + .milliseconds(Int64(r.u16()) * 10)
            if (try? client.tick(now: now, entropy: &entropy)) == nil { return 0 }
        default:
            if r.u8() & 1 == 0 {
                _ = client.ping(now: now, entropy: &entropy)
            } else {
                _ = try? client.send(to: serverPublic, packet: r.chunk())
            }
        }
    }
    return 0
}
