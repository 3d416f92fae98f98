import CoordinatorServer
import Foundation
import MeshTestSupport
import MeshWire
import Testing

/// A failure, not a skip: without the independent client there is no interop evidence.
struct STUNClientMissing: Error, CustomStringConvertible {
    var description: String
}

/// The STUN server queried by a client no one here wrote: aioice's `aioice.stun` (Debian package
/// python3-aioice, installed by Packaging/install-deps.sh) builds the requests and parses and
/// FINGERPRINT-checks the answers; a plain Python UDP socket carries them.
@Suite(.serialized, .timeLimit(.minutes(2))) struct STUNServerTests {
    /// The python3 that Packaging/install-deps.sh provides (Debian's, not a pyenv shim first on
    /// PATH); `MESH_PYTHON3` overrides it.
    static let python = ProcessInfo.processInfo.environment["MESH_PYTHON3"] ?? "/usr/bin/python3"
    static let missingHint = "run Packaging/install-deps.sh (it installs the Debian package python3-aioice), "
        + "or `apt-get install python3-aioice`; the test uses \(python) (override with MESH_PYTHON3)"

    /// One client socket; prints one JSON object per query plus the client's own address.
    static let client = #"""
        import sys, json, socket, os, random, time
        try:
            from aioice import stun
        except ImportError as e:
            print(json.dumps({"missing": str(e)})); sys.exit(0)

        host, p1, p2, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.bind((host, 0))
        me = list(sock.getsockname()[:2])

        def query(port, change=None, integrity=False):
            req = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
            if change is not None:
                req.attributes["CHANGE-REQUEST"] = change
            if integrity:
                req.attributes["USERNAME"] = "node:coord"
                req.add_message_integrity(b"irrelevant")
            data = bytes(req)
            sock.settimeout(1.0)
            for attempt in range(3):
                sock.sendto(data, (host, port))
                try:
                    while True:
                        raw, src = sock.recvfrom(4096)
                        m = stun.parse_message(raw)  # raises on a bad FINGERPRINT
                        if m.transaction_id == req.transaction_id:
                            break
                except socket.timeout:
                    continue
                a = m.attributes
                return {"class": m.message_class.name, "method": m.message_method.name,
                        "from": list(src[:2]), "mapped": list(a.get("XOR-MAPPED-ADDRESS") or []),
                        "origin": list(a.get("RESPONSE-ORIGIN") or []), "other": list(a.get("OTHER-ADDRESS") or []),
                        "software": a.get("SOFTWARE"), "error": list(a.get("ERROR-CODE") or []),
                        "fingerprint": "FINGERPRINT" in a}
            return {"timeout": True}

        def garbage(port):
            rng = random.Random(1234)
            sent = 0
            def send(d):
                nonlocal sent
                sock.sendto(d, (host, port)); sent += 1
                if sent % 10 == 0:
                    time.sleep(0.002)  # paced: a burst would overflow the server's receive buffer
            ok = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
            ok.add_message_integrity(b"k")
            bad = bytearray(bytes(ok)); bad[-1] ^= 0xFF                  # bad FINGERPRINT
            send(bytes(bad))
            bad = bytearray(bytes(ok)); bad[3] += 4                      # length lies
            send(bytes(bad))
            hdr = bytearray(bytes(ok)[:20]); hdr[2:4] = b"\x00\x04"
            send(bytes(hdr) + b"\x00\x20\xff\xff")                      # attribute overrun
            send(b"\x00\x01\x0f\xa0\x21\x12\xa4\x42" + bytes(4000 + 12)) # STUN-looking, too big
            for cls in (stun.Class.RESPONSE, stun.Class.ERROR, stun.Class.INDICATION):
                send(bytes(stun.Message(stun.Method.BINDING, cls)))      # not requests
            send(bytes(stun.Message(stun.Method.ALLOCATE, stun.Class.REQUEST)))  # other method
            send(b"")
            send(b"\x01\x00\x00\x00" + bytes(144))                      # WireGuard-looking
            send(b"MESHDS" + bytes(40))                                  # disco-looking
            send(b"\x00\x01\x00\x00\x21\x12\xa4\x42")                    # cut after the cookie
            send(bytes(4000))                                            # over the 2 KiB buffer
            for i in range(300):
                send(bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 200))))
            # Nothing of that may be answered.
            sock.settimeout(0.5)
            answered = 0
            try:
                while True:
                    sock.recvfrom(4096); answered += 1
            except socket.timeout:
                pass
            return {"sent": sent, "answered": answered}

        out = {"me": me}
        if mode == "basic":
            out["q1"] = query(p1)
            out["q2"] = query(p2)
            out["q1_integrity"] = query(p1, integrity=True)
            out["change_port_1"] = query(p1, change=2)
            out["change_port_2"] = query(p2, change=2)
            out["change_ip"] = query(p1, change=4)
        elif mode == "garbage":
            out["garbage1"] = garbage(p1)
            out["garbage2"] = garbage(p2)
            out["q1"] = query(p1)
            out["q2"] = query(p2)
        print(json.dumps(out))
        """#

    struct ClientReport {
        var raw: String
        var json: [String: Any]
        var me: (String, Int)
        func query(_ key: String) throws -> [String: Any] {
            try #require(json[key] as? [String: Any], "no \(key) in \(raw)")
        }
    }

    static func runClient(host: String, ports: (Int, Int), mode: String) async throws -> ClientReport {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw STUNClientMissing(description: "\(python) not found: \(missingHint)")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stun-client-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outURL = directory.appendingPathComponent("out"), errURL = directory.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", client, host, String(ports.0), String(ports.1), mode]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        // Wait without holding a cooperative thread.
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        let out = try String(contentsOf: outURL, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let err = try String(contentsOf: errURL, encoding: .utf8)
        try #require(status == 0, "\(python) exited with \(status): \(err)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], "not JSON: \(out)")
        if let missing = json["missing"] {
            throw STUNClientMissing(description: "the independent STUN client is missing (\(missing)): \(missingHint)")
        }
        let me = try #require(json["me"] as? [Any])
        return ClientReport(raw: out, json: json, me: (me[0] as? String ?? "?", me[1] as? Int ?? -1))
    }

    static func address(_ value: Any?) -> String {
        guard let pair = value as? [Any], pair.count == 2 else { return "none" }
        return "\(pair[0]):\(pair[1])"
    }

    /// `bindHost` is where the server listens; `host` is what the client sends to (differs
    /// for a wildcard bind, where RESPONSE-ORIGIN comes from the packet info).
    static func checkBasic(host: String, bindHost: String? = nil) async throws {
        let server = STUNServer(configuration: .init(host: bindHost ?? host, port1: 0, port2: 0))
        let ports = try await server.start()
        do {
            #expect(ports.0 != 0 && ports.1 != 0 && ports.0 != ports.1)
            let report = try await runClient(host: host, ports: ports, mode: "basic")
            print("STUN interop (\(host), server bound to \(bindHost ?? host)), aioice client said: \(report.raw)")
            let me = "\(report.me.0):\(report.me.1)"
            for (key, port, otherPort) in [("q1", ports.0, ports.1), ("q2", ports.1, ports.0),
                                           ("q1_integrity", ports.0, ports.1)] {
                let q = try report.query(key)
                #expect(q["class"] as? String == "RESPONSE", "\(key): \(q)")
                #expect(q["method"] as? String == "BINDING")
                #expect(address(q["mapped"]) == me, "\(key): mapped address is the client's own")
                #expect(address(q["from"]) == "\(host):\(port)", "\(key): answered from the port asked")
                #expect(address(q["origin"]) == "\(host):\(port)")
                #expect(address(q["other"]) == "\(host):\(otherPort)")
                #expect(q["software"] as? String == "meshcoord")
                #expect(q["fingerprint"] as? Bool == true)
            }
            // CHANGE-REQUEST(change port): the answer comes from the other socket.
            for (key, asked, answering) in [("change_port_1", ports.0, ports.1), ("change_port_2", ports.1, ports.0)] {
                let q = try report.query(key)
                #expect(q["class"] as? String == "RESPONSE", "\(key): \(q)")
                #expect(address(q["mapped"]) == me)
                #expect(address(q["from"]) == "\(host):\(answering)", "\(key): asked \(asked), answer must come from \(answering)")
                #expect(address(q["origin"]) == "\(host):\(answering)")
                #expect(address(q["other"]) == "\(host):\(asked)")
            }
            // CHANGE-REQUEST(change IP): one IP only, so error 420.
            let changeIP = try report.query("change_ip")
            #expect(changeIP["class"] as? String == "ERROR", "\(changeIP)")
            #expect((changeIP["error"] as? [Any])?.first as? Int == 420)
            #expect(address(changeIP["from"]) == "\(host):\(ports.0)")
            let c = server.counters
            #expect(c.answered >= 6)
            #expect(c.answeredFromOtherPort >= 2)
            #expect(c.errorResponses >= 1)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test func answersAioiceOnBothPortsIPv4() async throws {
        try await Self.checkBasic(host: "127.0.0.1")
    }

    @Test func answersAioiceOnBothPortsIPv6() async throws {
        try await Self.checkBasic(host: "::1")
    }

    @Test func wildcardBindReportsTheAddressAsked() async throws {
        try await Self.checkBasic(host: "127.0.0.1", bindHost: "0.0.0.0")
    }

    /// A wildcard is both families (one dual-stack socket per port): IPv6 clients are answered
    /// under "0.0.0.0" too, and IPv4 clients under "::" as IPv4 (not as mapped addresses).
    @Test func wildcardBindAnswersBothFamilies() async throws {
        try await Self.checkBasic(host: "::1", bindHost: "0.0.0.0")
        try await Self.checkBasic(host: "127.0.0.1", bindHost: "::")
    }

    @Test func garbageIsDroppedAndServerStillAnswers() async throws {
        let server = STUNServer(configuration: .init(host: "127.0.0.1", port1: 0, port2: 0))
        let ports = try await server.start()
        do {
            let report = try await Self.runClient(host: "127.0.0.1", ports: ports, mode: "garbage")
            print("STUN garbage run, aioice client said: \(report.raw); server counters: \(server.counters)")
            let me = "\(report.me.0):\(report.me.1)"
            for key in ["garbage1", "garbage2"] {
                let g = try report.query(key)
                #expect(g["answered"] as? Int == 0, "\(key): garbage must get no answer")
                #expect((g["sent"] as? Int ?? 0) > 300)
            }
            for (key, port) in [("q1", ports.0), ("q2", ports.1)] {
                let q = try report.query(key)
                #expect(q["class"] as? String == "RESPONSE", "\(key): \(q)")
                #expect(Self.address(q["mapped"]) == me)
                #expect(Self.address(q["from"]) == "127.0.0.1:\(port)")
            }
            let c = server.counters
            #expect(c.droppedNotSTUN > 0)
            #expect(c.droppedMalformed > 0)
            #expect(c.droppedNotBindingRequest >= 8)  // 4 kinds × 2 ports, unless loopback lost some
            #expect(c.answered >= 2 && c.answered <= 6)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    /// As a `Service`: `run()` answers until cancelled, then releases both ports.
    @Test func runsAsServiceAndReleasesPorts() async throws {
        let server = STUNServer(configuration: .init(host: "127.0.0.1", port1: 0, port2: 0))
        let task = Task { try await server.run() }
        _ = await eventually(within: .seconds(2), pollingEvery: .milliseconds(10)) { server.ports != nil }
        let bound = try #require(server.ports, "run() did not bind within 2 s")
        let report = try await Self.runClient(host: "127.0.0.1", ports: bound, mode: "basic")
        #expect(Self.address(try report.query("q1")["mapped"]) == "\(report.me.0):\(report.me.1)")
        task.cancel()
        try await task.value
        #expect(server.ports == nil)
        // Both ports are free again: a new server can take exactly those.
        let again = STUNServer(configuration: .init(host: "127.0.0.1", port1: bound.0, port2: bound.1))
        let rebound = try await again.start()
        #expect(rebound == bound)
        await again.stop()
        await again.stop()  // idempotent
    }

    @Test func refusesEqualPortsAndDoubleStart() async throws {
        let same = STUNServer(configuration: .init(host: "127.0.0.1", port1: 3478, port2: 3478))
        await #expect(throws: STUNServer.StartError.self) { try await same.start() }
        let server = STUNServer(configuration: .init(host: "127.0.0.1", port1: 0, port2: 0))
        try await server.start()
        await #expect(throws: STUNServer.StartError.self) { try await server.start() }
        await server.stop()
    }
}
