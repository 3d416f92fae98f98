import MeshCrypto
import MeshWire
import MeshBase

/// One round of STUN probing from the node's shared socket (DESIGN.md section 8): a Binding
/// request to each STUN server (the coordinator's two ports), retransmitted until answered or
/// out of time, plus one change-port request that tests the NAT's filtering. Pure: the driver
/// sends what `poll` returns, feeds answers to `receive`, and reads `report` when `isDone`.
public struct NetcheckProbe: Sendable {
    struct Request {
        var target: UDPAddress
        var txid: STUNTransactionID
        var bytes: [UInt8]
        var firstSent: MonotonicTime?
        var nextSend: MonotonicTime
        var attempts = 0
        var changePort: Bool
        var answered = false
    }

    public let deadline: MonotonicTime
    private var requests: [Request] = []
    private var report = NetcheckReport(udp: false, mapped: [:], latency: [:])

    /// Retransmission gaps: 0, 100, 200, 400, 800 ms... until the deadline.
    static let firstRetransmit: Duration = .milliseconds(100)

    public init(stunServers: [UDPAddress], now: MonotonicTime, timeout: Duration = .seconds(3),
                testFiltering: Bool = true, entropy: inout some EntropySource) {
        deadline = now + timeout
        func txid() -> STUNTransactionID {
            var b = [UInt8](repeating: 0, count: 12)
            b.withUnsafeMutableBytes { entropy.fill($0) }
            return STUNTransactionID(b)!
        }
        for server in stunServers {
            let id = txid()
            requests.append(Request(target: server, txid: id,
                                    bytes: STUNMessage.bindingRequest(transactionID: id).encode(),
                                    nextSend: now, changePort: false))
        }
        if testFiltering, let first = stunServers.first {
            let id = txid()
            requests.append(Request(target: first, txid: id,
                                    bytes: STUNMessage.bindingRequest(transactionID: id, changePort: true).encode(),
                                    nextSend: now, changePort: true))
        }
    }

    /// Datagrams due now: first sends and retransmissions.
    public mutating func poll(now: MonotonicTime) -> [(bytes: [UInt8], to: UDPAddress)] {
        guard now < deadline else { return [] }
        var out: [(bytes: [UInt8], to: UDPAddress)] = []
        for i in requests.indices where !requests[i].answered && requests[i].nextSend <= now {
            out.append((requests[i].bytes, requests[i].target))
            if requests[i].firstSent == nil { requests[i].firstSent = now }
            let gap = Self.firstRetransmit * (1 << min(requests[i].attempts, 5))
            requests[i].attempts += 1
            requests[i].nextSend = now + gap
        }
        return out
    }

    /// A STUN datagram from the socket; true if it answered one of our requests.
    @discardableResult
    public mutating func receive(_ bytes: [UInt8], from source: UDPAddress, now: MonotonicTime) -> Bool {
        guard let message = try? STUNMessage.decode(bytes), message.type == .bindingSuccess,
              let i = requests.firstIndex(where: { $0.txid == message.transactionID && !$0.answered }),
              let mapped = message.reflexiveAddress.flatMap(UDPAddress.init(stun:))
        else { return false }
        requests[i].answered = true
        report.udp = true
        if requests[i].changePort {
            // Only meaningful if the answer really came from a port we never sent to.
            report.receivesFromUnsolicitedPort = source != requests[i].target
        } else {
            report.mapped[requests[i].target] = mapped
            if let sent = requests[i].firstSent { report.latency[requests[i].target] = now - sent }
        }
        return true
    }

    public func isDone(now: MonotonicTime) -> Bool {
        now >= deadline || requests.allSatisfy(\.answered)
    }

    public var result: NetcheckReport {
        var r = report
        r.mappingVariesByDestination = NetcheckReport.mappingVaries(r.mapped)
        if r.receivesFromUnsolicitedPort == nil, requests.contains(where: { $0.changePort }), r.udp {
            r.receivesFromUnsolicitedPort = false  // asked, and the answer never got through
        }
        return r
    }
}

extension UDPAddress {
    /// From a STUN address (4 or 16 bytes).
    public init?(stun a: STUNAddress) {
        self.init(addressBytes: a.ip, port: a.port)
    }
}
