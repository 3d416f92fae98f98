// The receiving node's packet filter (MeshPolicy/PacketFilter.swift) driven by a script read
// from the input: raw packets (any bytes) and well-formed packets built from a few input bytes
// (IPv4/IPv6, TCP/UDP/ICMP echo/ICMP errors/other protocols, ports, flags, fragments, extension
// headers) go in and out, time advances, and the rules change between three compiled policies
// and none. The flow table is small so eviction binds. Checked: header parsing stays inside the
// packet; every reject is a well-formed packet back to the sender with valid checksums and a
// bounded size, and is never sent for a group address; the counters add up; the flow table
// stays within its bounds.
import MeshBase
import MeshPolicy

private func v4(_ last: UInt32) -> IPAddress { .v4(0x6440_0000 | last) }
private func v6(_ last: UInt64) -> IPAddress { .v6(high: 0xFD7A_115C_A1E0_0000, low: last) }

private let nodes = [
    PolicyNode(id: 1, name: "alice", user: "alice", ipv4: v4(1), ipv6: v6(1)),
    PolicyNode(id: 2, name: "bob", user: "bob", ipv4: v4(2), ipv6: v6(2)),
    PolicyNode(id: 3, name: "db", user: nil, tags: ["tag:db"], ipv4: v4(10), ipv6: v6(10)),
]
/// Addresses the structured packets use: the filter's node (db), two peers, an outsider and
/// group addresses (multicast, broadcast).
private let addresses4: [IPAddress] = [v4(10), v4(1), v4(2), .v4(0xC000_0207), .v4(0xE000_00FB), .v4(0xFFFF_FFFF)]
private let addresses6: [IPAddress] = [v6(10), v6(1), v6(2), .v6(high: 0x2001_0DB8_0000_0000, low: 7),
                                       .v6(high: 0xFF02_0000_0000_0000, low: 1), .v6(high: 0, low: 0)]

private let ruleSets: [[FilterRule]?] = {
    let texts = [
        #"{"groups": {"group:dev": ["alice", "bob"]}, "tagOwners": {"tag:db": []},"#
            + #""acls": [{"action": "accept", "src": ["group:dev"], "dst": ["tag:db:5432,22"]}]}"#,
        #"{"tagOwners": {"tag:db": []}, "acls": [{"action": "accept", "src": ["bob"], "dst": ["tag:db:*"], "proto": "udp"},"#
            + #"{"action": "accept", "src": ["*"], "dst": ["tag:db:*"], "proto": "gre"}]}"#,
        #"{"acls": []}"#,
    ]
    let directory = PolicyDirectory(nodes: nodes)
    return texts.map { try! Policy.load($0, directory: directory).compile().filters[3]!.rules } + [nil]
}()

private let configuration = PacketFilter.Configuration(
    maxInboundFlows: 8, maxOutboundFlows: 4, hashSeed: 0x5EED, tcpIdle: .seconds(100), tcpClosingIdle: .seconds(5),
    udpIdle: .seconds(20), icmpIdle: .seconds(10), otherIdle: .seconds(20), rejectsPerSecond: 4, rejectBurst: 3)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var r = FuzzReader(data, size)
    var filter = PacketFilter(configuration: configuration, rules: ruleSets[Int(r.u8()) % ruleSets.count])
    var now = MonotonicTime(nanoseconds: 1_000_000_000)
    var inboundCalls: UInt64 = 0
    var steps = 0
    while !r.isAtEnd && steps < 256 {
        steps += 1
        let op = r.u8()
        switch op % 6 {
        case 0:
            let packet = r.chunk()
            inboundCalls += 1
            judge(&filter, packet, now: now)
        case 1:
            let packet = r.chunk()
            packet.withUnsafeBytes { filter.outbound($0, now: now) }
        case 2:
            now = now + .milliseconds(Int64(r.u16()) * 10)
        case 3:
            filter.setRules(ruleSets[Int(r.u8()) % ruleSets.count])
        default:
            let packet = build(&r)
            if op & 0x80 == 0 {
                inboundCalls += 1
                judge(&filter, packet, now: now)
            } else {
                packet.withUnsafeBytes { filter.outbound($0, now: now) }
            }
        }
        guard filter.flowCount <= configuration.maxInboundFlows + configuration.maxOutboundFlows else {
            fatalError("flow table over its bounds: \(filter.flowCount)")
        }
    }
    let c = filter.counters
    let drops = c.acl + c.noFlow + c.flowCut + c.malformed
    guard c.accepted + c.acceptedFragments + drops == inboundCalls else {
        fatalError("counters do not add up: \(c) for \(inboundCalls) inbound packets")
    }
    return 0
}

private func judge(_ filter: inout PacketFilter, _ packet: [UInt8], now: MonotonicTime) {
    let parsed = packet.withUnsafeBytes { PacketHeaders.parse($0) }
    if let h = parsed {
        guard h.transportOffset <= h.length, h.length <= packet.count, h.transportOffset >= (h.isV6 ? 40 : 20) else {
            fatalError("headers outside the packet: offset \(h.transportOffset), length \(h.length) of \(packet.count)")
        }
    }
    let decision = packet.withUnsafeBytes { filter.inbound($0, now: now) }
    switch decision {
    case .accept:
        guard parsed != nil else { fatalError("accepted a malformed packet") }
    case .drop(let reason):
        guard (reason == .malformed) == (parsed == nil) else { fatalError("malformed reason disagrees with the parser") }
    case .dropAndReject(_, let reply):
        guard let h = parsed else { fatalError("answered a malformed packet") }
        guard let answer = reply.withUnsafeBytes({ PacketHeaders.parse($0) }) else { fatalError("reject does not parse: \(reply)") }
        // A reset is 40 or 60 bytes; an ICMP error quotes at most the IPv4 header (60) and 8
        // bytes, or stays within IPv6's minimum MTU.
        guard answer.source == h.destination, answer.destination == h.source, answer.length == reply.count,
              reply.count <= (h.isV6 ? RejectPacket.maxICMPv6ErrorBytes : 20 + 8 + 60 + 8) else {
            fatalError("reject not addressed back to the sender or oversized: \(reply)")
        }
        guard RejectPacket.mayAnswer(h) else { fatalError("answered a group address") }
        if answer.proto == 6 {
            guard answer.tcpFlags & PacketHeaders.tcpRST != 0, answer.sourcePort == h.destinationPort,
                  answer.destinationPort == h.sourcePort else { fatalError("reset does not answer the segment") }
        } else {
            guard answer.isICMPError else { fatalError("ICMP reject is not an ICMP error") }
            // The quote parses wherever the refused packet had 8 transport bytes to quote.
            if h.length >= h.transportOffset + 8 && (!h.isV6 || h.transportOffset == 40) {
                guard let q = answer.quoted, q.source == h.source, q.destination == h.destination, q.proto == h.proto else {
                    fatalError("ICMP reject does not quote the refused packet")
                }
            }
        }
        guard checksumsVerify(reply) else { fatalError("reject checksum wrong: \(reply)") }
    }
}

/// A well-formed packet from 5-12 input bytes.
private func build(_ r: inout FuzzReader) -> [UInt8] {
    let shape = r.u8()
    let isV6 = shape & 1 != 0
    let pool = isV6 ? addresses6 : addresses4
    let pick = r.u8()
    // Mostly peers to db, sometimes anything to anything.
    let source = pick & 0x80 == 0 ? pool[1 + Int(pick & 1)] : pool[Int(pick & 7) % pool.count]
    let destination = pick & 0x80 == 0 ? pool[0] : pool[Int((pick >> 3) & 7) % pool.count]
    let sourcePort = UInt16(r.u8() & 7) + 40000
    let destinationPort = [22, 5432, 53, 40000, 40001, 0, 80, 65535][Int(r.u8() & 7)] as UInt16
    var transport: [UInt8]
    let proto: UInt8
    switch (shape >> 1) % 6 {
    case 0, 1:
        proto = 6
        transport = [UInt8](repeating: 0, count: 20)
        put16(&transport, 0, sourcePort); put16(&transport, 2, destinationPort)
        put32(&transport, 4, UInt32(r.u16()) << 16); put32(&transport, 8, UInt32(r.u16()))
        transport[12] = 5 << 4
        transport[13] = r.u8() & 0x3F
        transport += [UInt8](repeating: 0x61, count: Int(r.u8() & 15))
    case 2:
        proto = 17
        transport = [UInt8](repeating: 0, count: 8)
        put16(&transport, 0, sourcePort); put16(&transport, 2, destinationPort)
        transport += [UInt8](repeating: 0x62, count: Int(r.u8() & 15))
        put16(&transport, 4, UInt16(transport.count))
    case 3:
        proto = isV6 ? 58 : 1
        transport = [UInt8](repeating: 0, count: 8)
        let request = r.u8() & 1 == 0
        transport[0] = isV6 ? (request ? 128 : 129) : (request ? 8 : 0)
        put16(&transport, 4, sourcePort)
    case 4:
        // An ICMP error quoting a packet db sent to the source (as db's outbound would have).
        proto = isV6 ? 58 : 1
        transport = [UInt8](repeating: 0, count: 8)
        transport[0] = isV6 ? 1 : 3
        transport[1] = 3
        var quoted = [UInt8](repeating: 0, count: 8)
        put16(&quoted, 0, destinationPort); put16(&quoted, 2, sourcePort)
        let qProto: UInt8 = r.u8() & 1 == 0 ? 17 : 6
        transport += ip(destination, source, proto: qProto, transport: quoted, extensions: 0, fragmentOffset: 0)
    default:
        proto = [47, 132, 50, 2][Int(r.u8() & 3)]
        transport = [UInt8](repeating: 0, count: 8)
        put16(&transport, 0, sourcePort); put16(&transport, 2, destinationPort)
    }
    let extra = r.u8()
    let fragmentOffset = extra & 0x80 != 0 ? UInt16(extra & 0x0F) : 0
    return ip(source, destination, proto: proto, transport: transport, extensions: isV6 ? Int(extra >> 4) & 3 : 0,
              fragmentOffset: fragmentOffset)
}

private func ip(_ source: IPAddress, _ destination: IPAddress, proto: UInt8, transport: [UInt8], extensions: Int,
                fragmentOffset: UInt16) -> [UInt8] {
    var t = transport
    let checksumAt: Int? = switch proto {
    case 6: 16
    case 17: 6
    case 1, 58: 2
    default: nil
    }
    if let at = checksumAt, t.count >= at + 2 {
        put16(&t, at, 0)
        let pseudo = proto == 1 ? 0 : pseudoSum(source, destination, proto: proto, length: t.count)
        put16(&t, at, ~fold(sum(t, initial: pseudo)))
    }
    if source.isV4 != destination.isV4 { return [] }
    if source.isV4 {
        var h = [UInt8](repeating: 0, count: 20)
        h[0] = 0x45
        put16(&h, 2, UInt16(20 + t.count))
        put16(&h, 6, fragmentOffset)
        h[8] = 64; h[9] = proto
        h.replaceSubrange(12..<16, with: source.networkBytes)
        h.replaceSubrange(16..<20, with: destination.networkBytes)
        put16(&h, 10, ~fold(sum(h, initial: 0)))
        return h + t
    }
    // Destination-options headers, then a fragment header when fragmentOffset says so.
    var types: [UInt8] = Array(repeating: 60, count: extensions)
    if fragmentOffset != 0 { types.append(44) }
    types.append(proto)
    var chain: [UInt8] = []
    for i in 0..<(types.count - 1) {
        var b: [UInt8] = [types[i + 1], 0, 0, 0, 0, 0, 0, 0]
        if types[i] == 44 { put16(&b, 2, fragmentOffset << 3) } else { b[2] = 1; b[3] = 4 }
        chain += b
    }
    var h = [UInt8](repeating: 0, count: 40)
    h[0] = 0x60
    put16(&h, 4, UInt16(chain.count + t.count))
    h[6] = types[0]; h[7] = 64
    h.replaceSubrange(8..<24, with: source.networkBytes)
    h.replaceSubrange(24..<40, with: destination.networkBytes)
    return h + chain + t
}

private func checksumsVerify(_ p: [UInt8]) -> Bool {
    let isV4 = p[0] >> 4 == 4
    let headerLength = isV4 ? Int(p[0] & 0x0F) * 4 : 40
    if isV4 && fold(sum(Array(p[0..<headerLength]), initial: 0)) != 0xFFFF { return false }
    let proto = isV4 ? p[9] : p[6]
    guard let from = IPAddress(networkBytes: isV4 ? p[12..<16] : p[8..<24]),
          let to = IPAddress(networkBytes: isV4 ? p[16..<20] : p[24..<40]) else { return false }
    let transport = Array(p[headerLength...])
    let pseudo = proto == 1 ? 0 : pseudoSum(from, to, proto: proto, length: transport.count)
    return fold(sum(transport, initial: pseudo)) == 0xFFFF
}

private func sum(_ bytes: [UInt8], initial: UInt32) -> UInt32 {
    var s = initial
    var i = 0
    while i < bytes.count {
        s += UInt32(bytes[i]) << 8 | (i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0)
        s = (s & 0xFFFF) + (s >> 16)
        i += 2
    }
    return s
}

private func fold(_ s: UInt32) -> UInt16 {
    var v = s
    while v > 0xFFFF { v = (v & 0xFFFF) + (v >> 16) }
    return UInt16(v)
}

private func pseudoSum(_ from: IPAddress, _ to: IPAddress, proto: UInt8, length: Int) -> UInt32 {
    sum(from.networkBytes + to.networkBytes + [0, proto, UInt8(length >> 8), UInt8(length & 0xFF)], initial: 0)
}

private func put16(_ b: inout [UInt8], _ at: Int, _ v: UInt16) {
    b[at] = UInt8(v >> 8); b[at + 1] = UInt8(v & 0xFF)
}

private func put32(_ b: inout [UInt8], _ at: Int, _ v: UInt32) {
    for i in 0..<4 { b[at + i] = UInt8((v >> (24 - 8 * UInt32(i))) & 0xFF) }
}
