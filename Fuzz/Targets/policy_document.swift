// The access-policy file (an admin's file or an API body): `HuJSONReader` and
// `PolicyDocument.parse` on arbitrary text, then, for what parses, `Policy` against a fixed mesh
// (users, a tagged node, two families), its own `tests` and `compile()`. Checked: errors point
// inside the document; what the reader accepts prints back as JSON that reads to the same
// values; every node's compiled filter agrees with `Policy.check` for every pair of nodes over
// sampled protocols and ports, its rules name only its own addresses, and its visible peers are
// exactly those it may talk to or that may talk to it (for the sampled traffic: a subset).
import MeshBase
import MeshPolicy
import MeshWire

private func v4(_ last: UInt32) -> IPAddress { .v4(0x6440_0000 | last) }
private func v6(_ last: UInt64) -> IPAddress { .v6(high: 0xFD7A_115C_A1E0_0000, low: last) }

private let nodes = [
    PolicyNode(id: 1, name: "alice-laptop", user: "alice", ipv4: v4(1), ipv6: v6(1)),
    PolicyNode(id: 2, name: "bob-laptop", user: "bob", ipv4: v4(2), ipv6: v6(2)),
    PolicyNode(id: 3, name: "carol-laptop", user: "carol", ipv4: v4(3)),
    PolicyNode(id: 4, name: "db", user: "alice", tags: ["tag:db"], ipv4: v4(10), ipv6: v6(10)),
    PolicyNode(id: 5, name: "web", user: nil, tags: ["tag:web", "tag:db"], ipv4: v4(20), ipv6: v6(20)),
    PolicyNode(id: 6, name: "alice-desktop", user: "alice", ipv4: nil, ipv6: v6(6)),
]
private let directory = PolicyDirectory(nodes: nodes, users: ["dave", "erin@example.com"])
private let protocols: [UInt8] = [6, 17, 1, 58, 47, 132]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let lines = bytes.reduce(1) { $0 + ($1 == 10 ? 1 : 0) }
    func checkPosition(_ e: PolicyError) {
        guard e.position.line >= 1, e.position.line <= lines, e.position.column >= 1, e.position.column <= size + 1,
              !e.reason.isEmpty else {
            fatalError("error position outside the document (\(lines) lines, \(size) bytes): \(e)")
        }
    }

    let value: HuJSONValue
    do {
        value = try HuJSONReader().parse(bytes: bytes)
    } catch {
        checkPosition(error)
        return 0
    }
    var json = ""
    write(value, into: &json)
    do {
        let again = try HuJSONReader().parse(json)
        guard same(value, again) else { fatalError("HuJSON does not round-trip: \(json)") }
    } catch {
        fatalError("printed HuJSON does not parse: \(error) in \(json)")
    }

    let text = String(decoding: bytes, as: UTF8.self)
    guard String(validating: bytes, as: UTF8.self) != nil else { return 0 }
    let policy: Policy
    do {
        policy = try Policy(document: try PolicyDocument.parse(text), directory: directory)
    } catch {
        checkPosition(error)
        return 0
    }
    do { try policy.runTests() } catch { checkPosition(error) }

    let compiled = policy.compile()
    guard compiled.filters.count == nodes.count else { fatalError("not every node has a filter") }
    // Ports: the edges of every rule's ranges, and a few fixed ones.
    var ports: Set<UInt16> = [0, 22, 80, 443, 5432, 65535]
    for f in compiled.filters.values {
        for rule in f.rules {
            // The per-rule bounds a node holds the netmap's filter to are this output's maxima.
            guard rule.destinations.count <= PacketFilterMessage.maxDestinationsPerRule,
                  rule.protocols.members.count <= PacketFilterMessage.maxProtocolsPerRule,
                  rule.ports.count <= PacketFilterMessage.maxPortRangesPerRule else {
                fatalError("a compiled rule past PacketFilterMessage's bounds: \(rule.destinations.count) destinations, \(rule.ports.count) port ranges")
            }
            for r in rule.ports.prefix(8) {
                ports.formUnion([r.first, r.last, r.first &- 1, r.last &+ 1])
            }
        }
    }
    let sampledPorts = Array(ports).sorted().prefix(48)
    for d in nodes {
        let filter = compiled.filters[d.id]!
        let visible = filter.visiblePeers
        // Sorted and unique; a node reached by everyone holds the shared list of all nodes,
        // itself included (NodeFilter.visiblePeers), and then nothing less than all of them.
        guard visible == Array(Set(visible)).sorted(),
              !visible.contains(d.id) || visible == nodes.map(\.id).sorted() else {
            fatalError("visible peers of \(d.id) not sorted and unique, or with itself but not every node: \(visible)")
        }
        for rule in filter.rules where !rule.destinations.allSatisfy(d.addresses.contains) {
            fatalError("node \(d.id) got a rule for another destination: \(rule.destinations)")
        }
        for s in nodes where s.id != d.id {
            for (source, destination) in zip([s.ipv4, s.ipv6], [d.ipv4, d.ipv6]) {
                guard let source, let destination else { continue }
                for proto in protocols {
                    for port in sampledPorts {
                        let byPolicy = policy.check(source: source, destination: destination, proto: proto, port: port)
                        let byFilter = filter.allows(source: source, destination: destination, proto: proto, port: port)
                        guard byPolicy == byFilter else {
                            fatalError("node \(d.id)'s filter says \(byFilter), the policy \(byPolicy), for \(s.id) proto \(proto) port \(port)")
                        }
                        if byPolicy {
                            guard visible.contains(s.id), compiled.filters[s.id]!.visiblePeers.contains(d.id) else {
                                fatalError("\(s.id) may reach \(d.id) but they do not see each other")
                            }
                        }
                    }
                }
            }
        }
    }
    _ = PolicyCompilation.changedNodes(from: compiled, to: nil)
    return 0
}

/// Prints a value as plain JSON (control characters and quotes escaped).
private func write(_ v: HuJSONValue, into out: inout String) {
    switch v.kind {
    case .null: out += "null"
    case .bool(let b): out += b ? "true" : "false"
    case .number(let n): out += n
    case .string(let s): writeString(s, into: &out)
    case .array(let a):
        out += "["
        for (i, e) in a.enumerated() {
            if i > 0 { out += "," }
            write(e, into: &out)
        }
        out += "]"
    case .object(let o):
        out += "{"
        for (i, m) in o.enumerated() {
            if i > 0 { out += "," }
            writeString(m.key, into: &out)
            out += ":"
            write(m.value, into: &out)
        }
        out += "}"
    }
}

private func writeString(_ s: String, into out: inout String) {
    out += "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case _ where u.value < 0x20:
            let hex = String(u.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(u)
        }
    }
    out += "\""
}

/// Equal values, positions aside.
private func same(_ a: HuJSONValue, _ b: HuJSONValue) -> Bool {
    switch (a.kind, b.kind) {
    case (.null, .null): return true
    case (.bool(let x), .bool(let y)): return x == y
    case (.number(let x), .number(let y)): return x == y
    case (.string(let x), .string(let y)): return x == y
    case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
    case (.object(let x), .object(let y)):
        return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && same($0.value, $1.value) }
    default: return false
    }
}
