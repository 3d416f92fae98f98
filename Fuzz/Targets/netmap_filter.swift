// The netmap's packet filter as a node takes it (Sources/MeshEngine/NetmapFilterRules.swift,
// bounds in Sources/MeshWire/PacketFilterMessage.swift). First byte: 0 = the rest is JSON
// (a `PacketFilterMessage` as the netmap carries it); otherwise a message built from the input:
// texts from a list of valid and broken prefixes and addresses or raw chunks, counts that
// sometimes cross a bound by one.
// Checked: nothing traps; no filter exactly when the message is not enforced; an accepted
// filter has one rule per message rule, each rule holds its sources' addresses and the message's
// destinations, its ports sorted and merged, and its netmap form (as the coordinator writes it,
// HubPolicy.message) converts to the same rules again; a refusal is one line without control
// characters, names the rule or the bound, and stays short (coordinator text is cut to 64 characters).
import Foundation
import MeshBase
import MeshEngine
import MeshPolicy
import MeshWire

private let texts = [
    "100.64.0.0/10", "100.64.0.3/32", "fd7a:115c:a1e0::/48", "fd7a:115c:a1e0::3/128", "0.0.0.0/0", "::/0",
    "100.64.0.1", "fd7a:115c:a1e0::1", "100.64.0.3/24", "::ffff:100.64.0.1", "100.64.0.1/33", "1.2.3.4/",
    "/8", "", "100.64.0.256", "fe80::1%eth0", "fd7a::/129", "\u{1B}[2J", "100.64.1.0/24", "10.0.0.0/8",
    String(repeating: "9", count: 300), "100.64.0.1 ", "１００.64.0.1",
]

private func text(_ r: inout FuzzReader) -> String {
    let pick = Int(r.u8())
    if pick < 200 { return texts[pick % texts.count] }
    return String(decoding: r.take(Int(r.u8() % 48)), as: UTF8.self)
}

private func built(_ r: inout FuzzReader) -> PacketFilterMessage {
    let flags = r.u8()
    var rules: [PacketFilterMessage.Rule] = []
    for _ in 0..<Int(r.u8() % 6) {
        var rule = PacketFilterMessage.Rule(sources: [], destinations: [], protocols: [], ports: [])
        for _ in 0..<Int(r.u8() % 5) { rule.sources.append(text(&r)) }
        for _ in 0..<Int(r.u8() % 4) { rule.destinations.append(text(&r)) }
        for _ in 0..<Int(r.u8() % 5) { rule.protocols.append(r.u8()) }
        for _ in 0..<Int(r.u8() % 6) { rule.ports.append(.init(first: r.u16(), last: r.u16())) }
        rules.append(rule)
    }
    // Now and then one bound crossed by one (refused before any text is read) or met exactly
    // (accepted; not for sources and rules, whose 65,536 and 10,000 texts take a second to parse
    // under ASan: their exact case is PacketFilterMessageTests').
    if flags & 0xF0 == 0xF0, !rules.isEmpty {
        let exact = flags & 1 == 0 && flags & 0x0E < 6
        switch flags & 0x0E {
        case 0: rules[0].destinations = Array(repeating: "100.64.0.1", count: PacketFilterMessage.maxDestinationsPerRule + (exact ? 0 : 1))
        case 2: rules[0].protocols = Array(repeating: 6, count: PacketFilterMessage.maxProtocolsPerRule + (exact ? 0 : 1))
        case 4: rules[0].ports = (0..<(PacketFilterMessage.maxPortRangesPerRule + (exact ? 0 : 1))).map {
                    .init(first: UInt16(truncatingIfNeeded: $0 * 2), last: UInt16(truncatingIfNeeded: $0 * 2)) }
        case 6: rules = Array(repeating: rules[0], count: PacketFilterMessage.maxRules + (exact ? 0 : 1))
        default: rules[0].sources = Array(repeating: "100.64.0.9/32", count: PacketFilterMessage.maxSourcesPerRule + (exact ? 0 : 1))
        }
    }
    return PacketFilterMessage(enforced: flags & 0x08 == 0 || flags & 0xF0 == 0xF0, rules: rules,
                               policyVersion: flags & 4 == 0 ? Int64(r.u16()) : nil)
}

/// The rules in the netmap's text form, as the coordinator writes a compiled filter.
private func message(_ rules: [FilterRule]) -> PacketFilterMessage {
    PacketFilterMessage(enforced: true, rules: rules.map { rule in
        .init(sources: rule.sources.prefixes.map(\.description), destinations: rule.destinations.map(\.description),
              protocols: rule.protocols.members, ports: rule.ports.map { .init(first: $0.first, last: $0.last) })
    })
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var r = FuzzReader(data, size)
    let input: PacketFilterMessage
    if r.u8() == 0 {
        guard let m = try? JSONDecoder().decode(PacketFilterMessage.self, from: Data(r.rest())) else { return 0 }
        input = m
    } else {
        input = built(&r)
    }
    do {
        guard let rules = try NetmapFilterRules.rules(from: input) else {
            precondition(!input.enforced, "an enforced filter became no filter")
            return 0
        }
        precondition(input.enforced && input.isWithinBounds && rules.count == input.rules.count, "rules do not match the message")
        for (rule, sent) in zip(rules, input.rules) {
            precondition(rule.destinations == sent.destinations.map { try! IPAddress($0) }, "destinations changed")
            for s in sent.sources { precondition(rule.sources.contains(try! IPPrefix(s).address), "a source's address is not in the rule") }
            precondition(zip(rule.ports, rule.ports.dropFirst()).allSatisfy { Int($0.last) + 1 < Int($1.first) }, "ports not sorted and merged")
            precondition(rule.protocols.members == Array(Set(sent.protocols)).sorted(), "protocols changed")
        }
        let again = try NetmapFilterRules.rules(from: message(rules))
        precondition(again == rules, "the rules' netmap form reads back differently")
    } catch {
        precondition(input.enforced, "a filter that is not enforced was refused")
        let reason = error.reason
        precondition(reason.hasPrefix("rule ") || reason.hasPrefix("more than "), "refusal names neither rule nor bound: \(reason)")
        precondition(reason.unicodeScalars.allSatisfy { $0.value >= 0x20 && !(0x7F...0x9F).contains($0.value) }, "control character in a refusal")
        precondition(reason.utf8.count <= 400, "refusal of \(reason.utf8.count) bytes")
    }
    return 0
}
