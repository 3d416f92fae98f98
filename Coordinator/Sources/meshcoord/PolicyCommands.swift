import ArgumentParser
import CoordinatorServer
import Foundation

// MARK: user

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Make, list and remove users (auth keys and nodes belong to one).",
        subcommands: [Create.self, List.self, Remove.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a user (then `authkey create --user NAME`).")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Name: letters, digits, '-', '_', '.', optionally @domain.") var name: String

        func run() async throws {
            try await reportingErrors {
                let u = try await admin.call("POST", "/v1/users", body: AdminCreateUserRequest(name: name), as: AdminUser.self)
                print("user \(u.name) created")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users.")
        @OptionGroup var admin: AdminOptions
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            try await reportingErrors {
                if json {
                    print(String(decoding: try await admin.callRaw("GET", "/v1/users"), as: UTF8.self), terminator: "")
                    return
                }
                let users = try await admin.call("GET", "/v1/users", as: [AdminUser].self)
                print(renderTable(["NAME", "NODES", "CREATED"], users.map { [$0.name, String($0.nodes), $0.createdAt] }))
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a user (refused while it has nodes or the policy names it).")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "User name.") var name: String

        func run() async throws {
            try await reportingErrors {
                let path = "/v1/users/" + (name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? name)
                let u = try await admin.call("DELETE", path, as: AdminUser.self)
                print("user \(u.name) removed")
            }
        }
    }
}

// MARK: policy

struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Show, check, set and test the access policy (HuJSON, a Tailscale-compatible subset).",
        discussion: """
            Without a policy every node may reach every other node. Once one is set, what it does not allow is denied. \
            A policy that does not parse, names unknown users, groups or tags, or fails its own tests is refused with \
            FILE:line:column and the reason; the running policy stays.
            """,
        subcommands: [Get.self, Set.self, Check.self, Test.self, History.self])

    static func read(_ file: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: file) else { throw CommandFailure("cannot read policy file \(file)") }
        guard let text = String(data: data, encoding: .utf8) else { throw CommandFailure("\(file) is not UTF-8 text") }
        return text
    }

    /// Sends a policy file's text (`set`: PUT /v1/policy, `check`: POST /v1/policy/check); a
    /// refusal is the server's `line:column: reason` with the file in front (as compilers write it).
    static func submit(_ file: String, _ method: String, _ path: String, via admin: AdminOptions) async throws -> AdminPolicyCheck {
        let text = try read(file)
        do {
            return try await admin.call(method, path, body: AdminPolicyText(text: text), as: AdminPolicyCheck.self)
        } catch let e as CommandFailure where e.description.first?.isNumber == true {
            throw CommandFailure("\(file):\(e.description)")
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the running policy (or an older --version).")
        @OptionGroup var admin: AdminOptions
        @Option(name: .long, help: "A version from `policy history`.") var version: Int64?
        @Flag(name: .long, help: "Print JSON (version, createdAt, text).") var json = false

        func run() async throws {
            try await reportingErrors {
                let path = version.map { "/v1/policy/history/\($0)" } ?? "/v1/policy"
                if json {
                    print(String(decoding: try await admin.callRaw("GET", path), as: UTF8.self), terminator: "")
                    return
                }
                let p = try await admin.call("GET", path, as: AdminPolicy.self)
                print(p.text, terminator: p.text.hasSuffix("\n") ? "" : "\n")
            }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a policy file and put it in force (pushed to the nodes at once).")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Policy file (HuJSON).") var file: String

        func run() async throws {
            try await reportingErrors {
                let r = try await PolicyCommand.submit(file, "PUT", "/v1/policy", via: admin)
                print("policy version \(r.version ?? 0) in force: \(r.rules) rules, \(r.tests) tests passed, \(r.changedNodes ?? 0) of \(r.nodes) nodes changed")
            }
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a policy file against the current nodes and users without setting it.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Policy file (HuJSON).") var file: String

        func run() async throws {
            try await reportingErrors {
                let r = try await PolicyCommand.submit(file, "POST", "/v1/policy/check", via: admin)
                print("\(file): ok: \(r.rules) rules, \(r.tests) tests passed against \(r.nodes) nodes")
            }
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the running policy's tests against the current nodes (exit 1 on a failure).")
        @OptionGroup var admin: AdminOptions

        func run() async throws {
            try await reportingErrors {
                let r = try await admin.call("POST", "/v1/policy/test", as: AdminPolicyTestResult.self)
                if r.passed {
                    print("policy version \(r.version): \(r.tests) tests passed")
                } else {
                    throw CommandFailure("policy version \(r.version): \(r.error ?? "a test fails")")
                }
            }
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every accepted policy version.")
        @OptionGroup var admin: AdminOptions
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            try await reportingErrors {
                if json {
                    print(String(decoding: try await admin.callRaw("GET", "/v1/policy/history"), as: UTF8.self), terminator: "")
                    return
                }
                let versions = try await admin.call("GET", "/v1/policy/history", as: [AdminPolicyVersion].self)
                print(renderTable(["VERSION", "SET AT", "BYTES", ""], versions.map {
                    [String($0.version), $0.createdAt, String($0.bytes), $0.running ? "running" : ""]
                }))
            }
        }
    }
}
