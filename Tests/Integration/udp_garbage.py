#!/usr/bin/env python3
"""udp_garbage.py - throw malformed datagrams at a UDP port (meshd robustness test).

usage: udp_garbage.py HOST PORT [--count N] [--pps RATE] [--seed S]

Mix (by default, of --count datagrams):
  random     70 %  random bytes, random length 0..1500 (never WireGuard/STUN/disco-looking)
  wireguard  12 %  byte 0 in 1..4, then 3 zero bytes, random rest; lengths either the real
                   message sizes (148, 92, 64, 32..) or random 4..1500
  stun        7 %  RFC 8489 header (type 0x0001/0x0101/0x0111, magic cookie 2112A442,
                   random transaction id), random or inconsistent length, random attributes
  disco       3 %  "MESHDS" magic followed by random bytes
  truncated   8 %  a prefix (shorter than the smallest valid message) of one of the above
One socket, sendto in a loop; optional pacing (--pps, 0 = as fast as possible).
Prints a JSON summary on stdout: sent per category, send errors, seconds, rate.
"""
import argparse
import json
import os
import random
import socket
import sys
import time

WG_SIZES = (148, 92, 64, 32, 48, 1312, 1452)
STUN_MAGIC = bytes.fromhex("2112A442")
DISCO_MAGIC = b"MESHDS"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--pps", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()

    rng = random.Random(a.seed)
    pool = os.urandom(1 << 21)  # slice random bytes out of one big buffer: fast
    plen = len(pool)

    def rnd(n):
        o = rng.randrange(0, plen - n - 1)
        return pool[o:o + n]

    def looks_special(b):
        if len(b) >= 4 and 1 <= b[0] <= 4 and b[1:4] == b"\0\0\0":
            return True
        if len(b) >= 8 and b[0] & 0xC0 == 0 and b[4:8] == STUN_MAGIC:
            return True
        return b[:6] == DISCO_MAGIC

    def gen_random():
        b = rnd(rng.randint(0, 1500))
        if looks_special(b):
            b = b"\xff" + b[1:]
        return b

    def gen_wg():
        t = rng.randint(1, 4)
        n = rng.choice(WG_SIZES) if rng.random() < 0.5 else rng.randint(4, 1500)
        return bytes((t, 0, 0, 0)) + rnd(n - 4)

    def gen_stun():
        typ = rng.choice((0x0001, 0x0101, 0x0111, 0x0002))
        body = rnd(rng.choice((0, 4, 8, 12, 24, rng.randint(0, 580))))
        length = len(body) if rng.random() < 0.5 else rng.randint(0, 0xFFFF)
        return typ.to_bytes(2, "big") + length.to_bytes(2, "big") + STUN_MAGIC + rnd(12) + body

    def gen_disco():
        return DISCO_MAGIC + rnd(rng.randint(0, 200))

    def gen_truncated():
        kind = rng.random()
        if kind < 0.5:
            full, limit = gen_wg(), 32       # shorter than the smallest WireGuard message
        elif kind < 0.8:
            full, limit = gen_stun(), 20     # shorter than a STUN header
        else:
            full, limit = gen_disco(), 6 + 32
        return full[:rng.randint(0, min(limit - 1, len(full)))]

    mix = (("random", 0.70, gen_random), ("wireguard", 0.12, gen_wg), ("stun", 0.07, gen_stun),
           ("disco", 0.03, gen_disco), ("truncated", 0.08, gen_truncated))
    cum, acc = [], 0.0
    for name, w, f in mix:
        acc += w
        cum.append((acc, name, f))

    sent = {name: 0 for name, _, _ in mix}
    errors = 0
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    dst = (a.host, a.port)
    t0 = time.perf_counter()
    for i in range(a.count):
        x = rng.random()
        for edge, name, f in cum:
            if x < edge:
                break
        b = f()
        try:
            s.sendto(b, dst)
            sent[name] += 1
        except OSError:
            errors += 1
        if a.pps > 0 and (i & 127) == 0:
            ahead = t0 + i / a.pps - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
    dt = time.perf_counter() - t0
    total = sum(sent.values())
    json.dump({"sent": total, "by_category": sent, "send_errors": errors,
               "seconds": round(dt, 3), "pps": round(total / dt) if dt > 0 else None},
              sys.stdout)
    print()


if __name__ == "__main__":
    main()
