#!/usr/bin/env python3
"""Fan-out benchmark for meshcoord: N simulated nodes hold map long-polls; then one change, and
the time until every poll has its answer, and the server's peak RSS.

  coordinator_fanout.py MESHCOORD [--change endpoints|policy] [NODES...]

--change endpoints (the default): one extra node changes its endpoints; every answer is a delta
naming it.
--change policy: the nodes belong to users and tags (a third each: user alice, user bob, tagged
tag:web; auth keys per user and a tagged key). A first policy is set before the polls open:
  * -> autogroup:member:22 and * -> tag:web:80
so every node's packet filter has one rule, to port 22 (members) or 80 (tag:web). Then the
admin API (the unix socket `meshcoord policy set` uses) puts in force
  * -> autogroup:member:22,2222 and * -> tag:web:80,443
which changes every node's filter. The clock starts as the PUT /v1/policy is sent (so the
figure includes checking, storing and compiling the policy) and stops at the last answer.
Every answer is opened and checked: a delta carrying an enforced packet filter of the new
policy version with exactly the new ports of that node's kind.

Needs PyNaCl (pip install pynacl). Run through Benchmarks/coordinator_fanout.sh.
"""
import asyncio, base64, json, os, re, resource, subprocess, sys, tempfile, time

from nacl.public import Box, PrivateKey, PublicKey


def b64(b): return base64.b64encode(b).decode()


def parse_token(tok):
    s = tok.strip()[len("mesh1_"):]
    raw = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    return raw[:32], base64.urlsafe_b64encode(raw[32:64]).decode().rstrip("=")


class Node:
    def __init__(self, coord_pub):
        self.key = PrivateKey.generate()
        self.box = Box(self.key, PublicKey(coord_pub))
        self.disco = b64(bytes(PrivateKey.generate().public_key))

    def seal(self, body):
        payload = json.dumps({"ts": int(time.time() * 1000), "rid": b64(os.urandom(16)), "body": body}).encode()
        nonce = os.urandom(24)
        return json.dumps({"nodeKey": b64(bytes(self.key.public_key)), "nonce": b64(nonce),
                           "box": b64(self.box.encrypt(payload, nonce).ciphertext)}).encode()

    def open(self, reply):
        env = json.loads(reply)
        return json.loads(self.box.decrypt(base64.b64decode(env["box"]), base64.b64decode(env["nonce"])))["body"]


async def http(port, path, body, unix=None, method="POST"):
    if unix:
        r, w = await asyncio.open_unix_connection(unix)
    else:
        r, w = await asyncio.open_connection("127.0.0.1", port)
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
    head += f"Content-Length: {len(body)}\r\n\r\n"
    w.write(head.encode() + body)
    await w.drain()
    data = await r.read()
    w.close()
    h, _, b = data.partition(b"\r\n\r\n")
    status = int(h.split(b" ")[1])
    return status, b


async def admin(sock, method, path, body=None):
    data = b"" if body is None else json.dumps(body).encode()
    st, b = await http(0, path, data, unix=sock, method=method)
    assert st in (200, 201), (method, path, st, b[:400])
    return json.loads(b)


# --change policy: the first and the changed policy, and the ports each kind of node must get.
POLICY_BEFORE = """{
  // benchmark: every node may reach members on 22 and tag:web on 80
  "tagOwners": {"tag:web": []},
  "acls": [
    {"action": "accept", "src": ["*"], "dst": ["autogroup:member:22"]},
    {"action": "accept", "src": ["*"], "dst": ["tag:web:80"]},
  ],
}"""
POLICY_AFTER = POLICY_BEFORE.replace("member:22", "member:22,2222").replace("web:80", "web:80,443")
PORTS_AFTER = {"member": [[22, 22], [2222, 2222]], "web": [[80, 80], [443, 443]]}
KINDS = ("alice", "bob", "web")


def filter_ports(pf):
    """The port ranges of a node's packet filter, as [[first, last], ...] sorted."""
    return sorted([p["first"], p["last"]] for r in pf["rules"] for p in r["ports"])


async def run(n, binary, change="endpoints"):
    state = tempfile.mkdtemp(prefix="mcbench-")
    print(f"{n} nodes, change {change}: meshcoord state and log in {state}", file=sys.stderr, flush=True)
    # Every simulated node connects from 127.0.0.1: lift the per-source connection cap.
    # MESHCOORD_WRAP: a command prefix for the server, e.g. "gdb -batch -ex run -ex bt --args".
    wrap = os.environ.get("MESHCOORD_WRAP", "").split()
    proc = subprocess.Popen(wrap + [binary, "serve", "--state-dir", state, "--listen", "127.0.0.1:0", "--stun-ports", "none",
                             "--keepalive", "300", "--log-level", "warning", "--max-connections-per-source", str(n + 1000)],
                            stderr=open(os.path.join(state, "meshcoord.log"), "wb"), stdout=subprocess.DEVNULL)
    sock = os.path.join(state, "admin.sock")
    # With log level warning there is no "listening" line: find the port through the admin socket's health.
    for _ in range(400):
        if os.path.exists(sock): break
        await asyncio.sleep(0.025)
    await asyncio.sleep(0.2)
    status, body = await http(0, "/v1/authkeys", json.dumps({"reusable": True}).encode(), unix=sock)
    token = json.loads(body)["token"]
    coord_pub, secret = parse_token(token)
    port = int(re.search(r":(\d+)$", json.loads((await http(0, "/v1/health", b"", unix=sock, method="GET"))[1])["publicURL"]).group(1))

    # Policy mode: node i+1 (the polling nodes) is of kind KINDS[i % 3]; node 0 polls once to learn the version.
    secrets = {k: secret for k in KINDS}
    if change == "policy":
        for user in ("alice", "bob"):
            await admin(sock, "POST", "/v1/users", {"name": user})
            secrets[user] = parse_token((await admin(sock, "POST", "/v1/authkeys", {"reusable": True, "user": user}))["token"])[1]
        secrets["web"] = parse_token((await admin(sock, "POST", "/v1/authkeys", {"reusable": True, "tags": ["tag:web"]}))["token"])[1]

    nodes = [Node(coord_pub) for _ in range(n + 1)]
    sem = asyncio.Semaphore(64)
    t = time.time()

    async def register(i, node):
        async with sem:
            key = secrets[KINDS[(i - 1) % 3]] if i > 0 else secret
            st, b = await http(port, "/v1/register", node.seal({"authKey": key, "hostname": f"n{i}", "os": "linux", "discoKey": node.disco}))
            assert st == 200, b
    await asyncio.gather(*(register(i, nd) for i, nd in enumerate(nodes)))
    reg_time = time.time() - t

    first_policy_s = None
    if change == "policy":
        t = time.perf_counter()
        await admin(sock, "PUT", "/v1/policy", {"text": POLICY_BEFORE})
        first_policy_s = time.perf_counter() - t

    mover = nodes[0]
    st, b = await http(port, "/v1/map", mover.seal({"wait": False}))
    version = mover.open(b)["version"]

    done_at = [None] * n
    answers = [None] * n

    async def poll(i, node, ready):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        body = node.seal({"sinceVersion": version})
        w.write(f"POST /v1/map HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        await w.drain()
        ready.set_result(None) if not ready.done() else None
        data = await r.read()
        done_at[i] = time.perf_counter()
        answers[i] = data
        w.close()

    t = time.time()
    tasks = []
    for i, nd in enumerate(nodes[1:]):
        f = asyncio.get_running_loop().create_future()
        tasks.append(asyncio.create_task(poll(i, nd, f)))
        if i % 200 == 199: await asyncio.sleep(0)
    # Wait until the server holds every poll.
    while True:
        try:
            h = json.loads((await http(0, "/v1/health", b"", unix=sock, method="GET"))[1])
        except ConnectionResetError as e:
            raise SystemExit(f"meshcoord's admin socket reset the connection ({e!r}); meshcoord exit status {proc.poll()}, "
                             f"{sum(t.done() for t in tasks)} polls ended; log {state}/meshcoord.log")
        if h["waitingPolls"] >= n: break
        await asyncio.sleep(0.05)
    open_time = time.time() - t

    t0 = time.perf_counter()
    if change == "policy":
        st, b = await http(0, "/v1/policy", json.dumps({"text": POLICY_AFTER}).encode(), unix=sock, method="PUT")
        set_s = time.perf_counter() - t0
        assert st == 200, b
        set_answer = json.loads(b)
    else:
        st, b = await http(port, "/v1/endpoints", mover.seal({"endpoints": ["203.0.113.9:41641"]}))
        assert st == 200, b
    await asyncio.gather(*tasks)
    worst = max(done_at) - t0
    median = sorted(done_at)[n // 2] - t0
    if change == "policy":
        # Every answer: a delta with the new policy's packet filter and the node's new ports.
        assert set_answer["changedNodes"] >= n, set_answer
        for i, data in enumerate(answers):
            h, _, bd = data.partition(b"\r\n\r\n")
            assert b" 200 " in h.split(b"\r\n")[0], h
            m = nodes[1 + i].open(bd)
            pf = m.get("packetFilter")
            assert m["kind"] == "delta" and pf and pf["enforced"] and pf["policyVersion"] == set_answer["version"], m
            want = PORTS_AFTER["web" if KINDS[i % 3] == "web" else "member"]
            assert filter_ports(pf) == want, (i, KINDS[i % 3], pf)
    # Check a sample of answers: each is a delta naming the mover.
    else:
        for data in answers[:: max(1, n // 20)]:
            h, _, bd = data.partition(b"\r\n\r\n")
            assert b" 200 " in h.split(b"\r\n")[0], h
        idx = answers.index(answers[-1])
        m = nodes[1 + idx].open(answers[-1].partition(b"\r\n\r\n")[2])
        assert m["kind"] == "delta" and m["peersChanged"][0]["endpoints"] == ["203.0.113.9:41641"], m

    with open(f"/proc/{proc.pid}/status") as f:
        hwm = int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1))
    proc.terminate()
    proc.wait(timeout=60)
    row = {"nodes": n, "register_s": reg_time, "open_polls_s": open_time, "median_ms": median * 1000,
           "all_answered_ms": worst * 1000, "peak_rss_mib": hwm / 1024}
    if change == "policy":
        row.update(first_policy_ms=first_policy_s * 1000, set_ms=set_s * 1000, changed=set_answer["changedNodes"])
    return row


def main():
    binary = sys.argv[1]
    args = sys.argv[2:]
    change = "endpoints"
    if args[:1] == ["--change"]:
        change, args = args[1], args[2:]
    assert change in ("endpoints", "policy"), f"--change endpoints or policy, not {change}"
    sizes = [int(x) for x in args] or [1000, 10000]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    rows = [asyncio.run(run(n, binary, change)) for n in sizes]
    print()
    if change == "policy":
        print("change: a policy (every node's packet filter changes); time from PUT /v1/policy sent; every answer checked")
        print(f"{'nodes':>6}  {'register':>9}  {'first policy':>12}  {'open polls':>10}  {'PUT answered':>12}  "
              f"{'median answer':>13}  {'all answered':>12}  {'changed':>7}  {'server peak RSS':>15}")
        for r in rows:
            print(f"{r['nodes']:>6}  {r['register_s']:>8.1f}s  {r['first_policy_ms']:>10.0f}ms  {r['open_polls_s']:>9.1f}s  "
                  f"{r['set_ms']:>10.0f}ms  {r['median_ms']:>11.0f}ms  {r['all_answered_ms']:>10.0f}ms  {r['changed']:>7}  "
                  f"{r['peak_rss_mib']:>11.0f} MiB")
        return
    print("change: one node's endpoints; time from POST /v1/endpoints sent")
    print(f"{'nodes':>6}  {'register':>9}  {'open polls':>10}  {'median answer':>13}  {'all answered':>12}  {'server peak RSS':>15}")
    for r in rows:
        print(f"{r['nodes']:>6}  {r['register_s']:>8.1f}s  {r['open_polls_s']:>9.1f}s  {r['median_ms']:>11.0f}ms  "
              f"{r['all_answered_ms']:>10.0f}ms  {r['peak_rss_mib']:>11.0f} MiB")


if __name__ == "__main__":
    main()
