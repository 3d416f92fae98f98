import MeshBase
import MeshPolicy

/// The issue's example mesh: two developers, a contractor, a database host and a web host.
enum Fixture {
    static func v4(_ last: UInt32) -> IPAddress { .v4(0x6440_0000 | last) }  // 100.64.0.x
    static func v6(_ last: UInt64) -> IPAddress { .v6(high: 0xFD7A_115C_A1E0_0000, low: last) }

    static let alice = PolicyNode(id: 1, name: "alice-laptop", user: "alice", ipv4: v4(1), ipv6: v6(1))
    static let bob = PolicyNode(id: 2, name: "bob-laptop", user: "bob", ipv4: v4(2), ipv6: v6(2))
    static let carol = PolicyNode(id: 3, name: "carol-laptop", user: "carol", ipv4: v4(3), ipv6: v6(3))
    static let db = PolicyNode(id: 4, name: "db", user: "alice", tags: ["tag:db"], ipv4: v4(10), ipv6: v6(10))
    static let web = PolicyNode(id: 5, name: "web", user: nil, tags: ["tag:web"], ipv4: v4(20), ipv6: v6(20))
    static let aliceDesktop = PolicyNode(id: 6, name: "alice-desktop", user: "alice", ipv4: v4(6), ipv6: v6(6))

    static let directory = PolicyDirectory(nodes: [alice, bob, carol, db, web], users: ["dave"])

    static let policyText = """
    // The issue's example: developers reach the database, every member the web host.
    {
      "groups": {
        "group:dev": ["alice@", "bob"],
      },
      "tagOwners": {
        "tag:db": ["group:dev"],
        "tag:web": ["alice"],
      },
      "hosts": {
        "office": "192.0.2.0/24",
      },
      "acls": [
        {"action": "accept", "src": ["group:dev"], "dst": ["tag:db:5432"]},
        {"action": "accept", "src": ["autogroup:member"], "dst": ["tag:web:80,443"]},
      ],
      "tests": [
        {"src": "alice", "accept": ["tag:db:5432", "tag:web:443"], "deny": ["tag:db:22"]},
        {"src": "carol@", "accept": ["tag:web:80"], "deny": ["tag:db:5432"]},
        {"src": "tag:db", "deny": ["alice:22", "tag:web:80"]},
      ],
    }
    """

    static func policy(_ text: String = policyText, directory: PolicyDirectory = directory) throws -> Policy {
        try Policy.load(text, directory: directory)
    }
}

/// The error a throwing parse produced, or nil if it succeeded.
func policyError(_ body: () throws -> Void) -> PolicyError? {
    do {
        try body()
        return nil
    } catch let error as PolicyError {
        return error
    } catch {
        return PolicyError("unexpected error \(error)", at: SourcePosition(line: 0, column: 0))
    }
}

/// A small deterministic generator for randomized tests (SplitMix64).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
