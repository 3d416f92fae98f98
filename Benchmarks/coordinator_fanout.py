#!/usr/bin/env python3
"""Fan-out benchmark for meshcoord: N simulated nodes hold map long-polls; one node changes its
endpoints; measure the time until every poll has its answer, and the server's peak RSS.

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


async def run(n, binary):
    state = tempfile.mkdtemp(prefix="mcbench-")
    proc = subprocess.Popen([binary, "serve", "--state-dir", state, "--listen", "127.0.0.1:0", "--stun-ports", "none",
                             "--keepalive", "300", "--log-level", "warning"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
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

    nodes = [Node(coord_pub) for _ in range(n + 1)]
    sem = asyncio.Semaphore(64)
    t = time.time()

    async def register(i, node):
        async with sem:
            st, b = await http(port, "/v1/register", node.seal({"authKey": secret, "hostname": f"n{i}", "os": "linux", "discoKey": node.disco}))
            assert st == 200, b
    await asyncio.gather(*(register(i, nd) for i, nd in enumerate(nodes)))
    reg_time = time.time() - t

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
        h = json.loads((await http(0, "/v1/health", b"", unix=sock, method="GET"))[1])
        if h["waitingPolls"] >= n: break
        await asyncio.sleep(0.05)
    open_time = time.time() - t

    t0 = time.perf_counter()
    st, b = await http(port, "/v1/endpoints", mover.seal({"endpoints": ["203.0.113.9:41641"]}))
    assert st == 200, b
    await asyncio.gather(*tasks)
    worst = max(done_at) - t0
    median = sorted(done_at)[n // 2] - t0
    # Check a sample of answers: each is a delta naming the mover.
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
    return {"nodes": n, "register_s": reg_time, "open_polls_s": open_time, "median_ms": median * 1000,
            "all_answered_ms": worst * 1000, "peak_rss_mib": hwm / 1024}


def main():
    binary = sys.argv[1]
    sizes = [int(x) for x in sys.argv[2:]] or [1000, 10000]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    rows = [asyncio.run(run(n, binary)) for n in sizes]
    print()
    print(f"{'nodes':>6}  {'register':>9}  {'open polls':>10}  {'median answer':>13}  {'all answered':>12}  {'server peak RSS':>15}")
    for r in rows:
        print(f"{r['nodes']:>6}  {r['register_s']:>8.1f}s  {r['open_polls_s']:>9.1f}s  {r['median_ms']:>11.0f}ms  "
              f"{r['all_answered_ms']:>10.0f}ms  {r['peak_rss_mib']:>11.0f} MiB")


if __name__ == "__main__":
    main()
