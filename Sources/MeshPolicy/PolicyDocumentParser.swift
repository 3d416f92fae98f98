import MeshBase

extension PolicyDocument {
    /// Parses and checks a policy file (HuJSON). The first problem found, in file order of the
    /// checks below, is thrown with its line:column.
    public static func parse(_ text: String, limits: HuJSONReader.Limits = .init()) throws(PolicyError) -> PolicyDocument {
        let root = try HuJSONReader(limits: limits).parse(text)
        var parser = DocumentParser()
        return try parser.document(root)
    }
}

private struct DocumentParser {
    var doc = PolicyDocument()
    var hostNames: Set<String> = []

    mutating func document(_ root: HuJSONValue) throws(PolicyError) -> PolicyDocument {
        let members = try object(root, "the policy")
        for m in members {
            switch m.key {
            case "groups", "tagOwners", "hosts", "acls", "tests": continue
            default:
                throw PolicyError("unknown top-level key \"\(m.key)\" (this mesh supports groups, tagOwners, hosts, acls and tests)",
                                  at: m.keyPosition)
            }
        }
        // Hosts and groups first: rules and owners may use them wherever they appear in the file.
        if let hosts = members.first(where: { $0.key == "hosts" }) { try parseHosts(hosts.value) }
        if let groups = members.first(where: { $0.key == "groups" }) { try parseGroups(groups.value) }
        if let owners = members.first(where: { $0.key == "tagOwners" }) { try parseTagOwners(owners.value) }
        if let acls = members.first(where: { $0.key == "acls" }) {
            for rule in try array(acls.value, "acls") { doc.rules.append(try parseRule(rule)) }
        }
        if let tests = members.first(where: { $0.key == "tests" }) {
            for test in try array(tests.value, "tests") { doc.tests.append(try parseTest(test)) }
        }
        return doc
    }

    // MARK: sections

    mutating func parseHosts(_ value: HuJSONValue) throws(PolicyError) {
        let members = try object(value, "hosts")
        for m in members {
            guard PolicyAlias.isName(m.key[...]), !m.key.contains("@"), m.key.first?.isNumber == false || !m.key.contains(".") else {
                throw PolicyError("\"\(m.key)\" is not a valid host name (letters, digits, '-', '_', '.')", at: m.keyPosition)
            }
            let text = try string(m.value, "a host's address")
            do throws(IPParseError) {
                doc.hosts[m.key] = try IPPrefix(text).masked
            } catch {
                throw PolicyError("host \"\(m.key)\": \(error.description)", at: m.value.position)
            }
            hostNames.insert(m.key)
        }
    }

    mutating func parseGroups(_ value: HuJSONValue) throws(PolicyError) {
        for m in try object(value, "groups") {
            guard m.key.hasPrefix("group:"), PolicyAlias.isName(m.key.dropFirst(6)) else {
                throw PolicyError("group names start with \"group:\" and use letters, digits, '-', '_', '.': \"\(m.key)\"",
                                  at: m.keyPosition)
            }
            var users: [PolicyDocument.Located<String>] = []
            for element in try array(m.value, "a group's members") {
                let text = try string(element, "a group member")
                switch PolicyAlias.parse(text[...], hosts: []) {
                case .success(.user(let u)): users.append(.init(value: u, position: element.position))
                case .success:
                    throw PolicyError("group members must be users, not \"\(text)\"", at: element.position)
                case .failure(let e): throw PolicyError(e.reason, at: element.position)
                }
            }
            doc.groups[m.key] = users
        }
    }

    mutating func parseTagOwners(_ value: HuJSONValue) throws(PolicyError) {
        let members = try object(value, "tagOwners")
        for m in members {
            guard m.key.hasPrefix("tag:"), PolicyAlias.isName(m.key.dropFirst(4)) else {
                throw PolicyError("tag names start with \"tag:\" and use letters, digits, '-', '_', '.': \"\(m.key)\"",
                                  at: m.keyPosition)
            }
            doc.tagOwners[m.key] = []
        }
        // Owners may be other tags, so every tag is known before owners are checked.
        for m in members {
            var owners: [PolicyDocument.Located<PolicyAlias>] = []
            for element in try array(m.value, "a tag's owners") {
                let alias = try alias(element, context: "a tag owner")
                switch alias {
                case .user, .group, .tag: owners.append(.init(value: alias, position: element.position))
                default: throw PolicyError("tag owners must be users, groups or tags, not \"\(alias)\"", at: element.position)
                }
            }
            doc.tagOwners[m.key] = owners
        }
    }

    mutating func parseRule(_ value: HuJSONValue) throws(PolicyError) -> PolicyDocument.Rule {
        let members = try object(value, "an acls entry")
        try onlyKeys(members, ["action", "src", "dst", "proto"], in: "an acls entry")
        guard let action = members.first(where: { $0.key == "action" }) else {
            throw PolicyError("an acls entry needs \"action\": \"accept\"", at: value.position)
        }
        guard try string(action.value, "action") == "accept" else {
            throw PolicyError("the only action is \"accept\" (what no rule accepts is denied)", at: action.value.position)
        }
        guard let src = members.first(where: { $0.key == "src" }) else {
            throw PolicyError("an acls entry needs \"src\"", at: value.position)
        }
        guard let dst = members.first(where: { $0.key == "dst" }) else {
            throw PolicyError("an acls entry needs \"dst\"", at: value.position)
        }
        var protocols = IPProtocolSet.defaultProtocols
        var explicitProtocol: UInt8? = nil
        if let proto = members.first(where: { $0.key == "proto" }) {
            let p = try protocolNumber(proto.value)
            protocols = IPProtocolSet([p])
            explicitProtocol = p
        }
        var sources: [PolicyDocument.Located<PolicyAlias>] = []
        let srcElements = try array(src.value, "src")
        guard !srcElements.isEmpty else { throw PolicyError("\"src\" is empty, so the rule allows nothing", at: src.value.position) }
        for element in srcElements {
            let a = try alias(element, context: "a source")
            if a == .autogroupSelf {
                throw PolicyError("autogroup:self may only be a destination", at: element.position)
            }
            sources.append(.init(value: a, position: element.position))
        }
        var destinations: [PolicyDocument.Destination] = []
        let dstElements = try array(dst.value, "dst")
        guard !dstElements.isEmpty else { throw PolicyError("\"dst\" is empty, so the rule allows nothing", at: dst.value.position) }
        for element in dstElements {
            let text = try string(element, "a destination")
            let (aliasText, portsText) = try splitDestination(text, at: element.position)
            let a = try resolveName(aliasText, at: element.position)
            let ports: [PortRange]
            switch PortRange.parseList(portsText) {
            case .success(let p): ports = p
            case .failure(let e): throw PolicyError("destination \"\(text)\": \(e.reason)", at: element.position)
            }
            if let p = explicitProtocol, !IPProtocolNumber.hasPorts(p), ports != [.all] {
                throw PolicyError("protocol \(p) has no ports, so its destinations must end in \":*\"", at: element.position)
            }
            destinations.append(.init(alias: a, ports: ports, position: element.position))
        }
        if destinations.contains(where: { $0.alias == .autogroupSelf }) {
            for s in sources {
                switch s.value {
                case .user, .group, .autogroupMember: continue
                default:
                    throw PolicyError("with autogroup:self as a destination, sources must be users, groups or autogroup:member, not \"\(s.value)\"",
                                      at: s.position)
                }
            }
        }
        return .init(sources: sources, destinations: destinations, protocols: protocols, position: value.position)
    }

    mutating func parseTest(_ value: HuJSONValue) throws(PolicyError) -> PolicyDocument.Test {
        let members = try object(value, "a tests entry")
        try onlyKeys(members, ["src", "proto", "accept", "deny"], in: "a tests entry")
        guard let src = members.first(where: { $0.key == "src" }) else {
            throw PolicyError("a tests entry needs \"src\"", at: value.position)
        }
        let sourceText = try string(src.value, "a test's src")
        let source = try alias(src.value, context: "a test's source")
        if source == .autogroupSelf || source == .any {
            throw PolicyError("a test's src must name nodes or an address, not \"\(source)\"", at: src.value.position)
        }
        var proto = IPProtocolNumber.tcp
        if let p = members.first(where: { $0.key == "proto" }) { proto = try protocolNumber(p.value) }
        func targets(_ key: String) throws(PolicyError) -> [PolicyDocument.Test.Target] {
            guard let list = members.first(where: { $0.key == key }) else { return [] }
            var out: [PolicyDocument.Test.Target] = []
            for element in try array(list.value, key) {
                let text = try string(element, "a test destination")
                let (aliasText, portText) = try splitDestination(text, at: element.position)
                let a = try resolveName(aliasText, at: element.position)
                if a == .autogroupSelf || a == .any {
                    throw PolicyError("a test destination must name nodes or an address, not \"\(a)\"", at: element.position)
                }
                guard let port = PortRange.port(portText) else {
                    throw PolicyError("a test destination needs one port (0-65535), not \"\(portText)\"", at: element.position)
                }
                out.append(.init(alias: a, port: port, text: text, position: element.position))
            }
            return out
        }
        let accept = try targets("accept")
        let deny = try targets("deny")
        guard !accept.isEmpty || !deny.isEmpty else {
            throw PolicyError("a tests entry needs \"accept\" or \"deny\" destinations", at: value.position)
        }
        return .init(source: .init(value: source, position: src.value.position), sourceText: sourceText,
                     protocolNumber: proto, accept: accept, deny: deny, position: value.position)
    }

    // MARK: pieces

    /// `tag:db:5432` → (`tag:db`, `5432`); `[fd00::1]:22` → (`fd00::1`, `22`); otherwise split
    /// at the last colon, as Tailscale does.
    func splitDestination(_ text: String, at position: SourcePosition) throws(PolicyError) -> (Substring, Substring) {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw PolicyError("destination \"\(text)\" must be \"[address]:ports\"", at: position)
            }
            let inner = text[text.index(after: text.startIndex)..<close]
            return (inner, text[text.index(close, offsetBy: 2)...])
        }
        let prefixed = text.hasPrefix("tag:") || text.hasPrefix("group:") || text.hasPrefix("autogroup:")
        guard let colon = text.lastIndex(of: ":"), !(prefixed && text.firstIndex(of: ":") == colon) else {
            throw PolicyError("destination \"\(text)\" needs ports, as in \"\(text):*\" or \"\(text):443\"", at: position)
        }
        return (text[..<colon], text[text.index(after: colon)...])
    }

    func alias(_ value: HuJSONValue, context: String) throws(PolicyError) -> PolicyAlias {
        let text = try string(value, context)
        return try resolveName(text[...], at: value.position)
    }

    /// Parses an alias and checks that the group, tag or host it names is defined in this file.
    func resolveName(_ text: Substring, at position: SourcePosition) throws(PolicyError) -> PolicyAlias {
        switch PolicyAlias.parse(text, hosts: hostNames) {
        case .failure(let e): throw PolicyError(e.reason, at: position)
        case .success(let a):
            switch a {
            case .group(let g) where doc.groups[g] == nil:
                throw PolicyError("unknown group \"\(g)\" (not defined in groups)", at: position)
            case .tag(let t) where doc.tagOwners[t] == nil:
                throw PolicyError("unknown tag \"\(t)\" (not defined in tagOwners)", at: position)
            default:
                return a
            }
        }
    }

    func protocolNumber(_ value: HuJSONValue) throws(PolicyError) -> UInt8 {
        if let n = value.integerValue(maximum: 255) { return UInt8(n) }
        if let s = value.stringValue {
            if let p = IPProtocolNumber.byName[s.lowercased()] { return p }
            if let n = PortRange.port(s[...]), n <= 255 { return UInt8(n) }
            throw PolicyError("unknown protocol \"\(s)\" (use tcp, udp, icmp, ipv6-icmp, sctp, gre, esp, ah, igmp or a number 0-255)",
                              at: value.position)
        }
        throw PolicyError("\"proto\" must be a protocol name or a number 0-255, found \(value.kindName)", at: value.position)
    }

    func onlyKeys(_ members: [HuJSONMember], _ allowed: Set<String>, in what: String) throws(PolicyError) {
        for m in members where !allowed.contains(m.key) {
            throw PolicyError("unknown key \"\(m.key)\" in \(what) (allowed: \(allowed.sorted().joined(separator: ", ")))",
                              at: m.keyPosition)
        }
    }

    func object(_ value: HuJSONValue, _ what: String) throws(PolicyError) -> [HuJSONMember] {
        guard let o = value.objectValue else { throw PolicyError("\(what) must be an object, found \(value.kindName)", at: value.position) }
        return o
    }

    func array(_ value: HuJSONValue, _ what: String) throws(PolicyError) -> [HuJSONValue] {
        guard let a = value.arrayValue else { throw PolicyError("\(what) must be an array, found \(value.kindName)", at: value.position) }
        return a
    }

    func string(_ value: HuJSONValue, _ what: String) throws(PolicyError) -> String {
        guard let s = value.stringValue else { throw PolicyError("\(what) must be a string, found \(value.kindName)", at: value.position) }
        return s
    }
}
