#!/usr/bin/env python3
"""A delaying wire between two interfaces, for kernels built without sch_netem.

The lab's regions need links with a fixed one-way delay, and some tests need to change one
host's link while it runs (more delay towards one peer, or a blackhole that models a region
going dark without closing any TCP connection). This forwards every Ethernet frame that
arrives on one interface out of the other after the delay, in both directions, from packet
sockets in the namespace that holds both interfaces.

Control file (JSON, re-read when its mtime changes; a missing or unparsable file keeps the
last good settings):
    {"delay_ms": 5, "extra_ms": {"198.51.100.2": 80}, "drop": ["198.51.100.2"], "drop_all": false}
delay_ms applies to every frame each way; extra_ms adds to frames whose IPv4 or IPv6 source
or destination is the address; drop discards those frames; drop_all discards every frame.

Usage: delaylink.py IFACE_A IFACE_B CONTROL_FILE
Offloads must be off on the interfaces (the lab does it with ethtool): a packet socket sees
GSO super-frames and unfinished checksums otherwise.
"""
import heapq
import ipaddress
import json
import os
import select
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
MAX_QUEUED = 20000  # frames in flight; beyond this new frames are dropped, as a full queue does


class Settings:
    def __init__(self):
        self.delay = 0.0
        self.extra = {}
        self.drop = set()
        self.drop_all = False
        self.mtime = None

    def reload(self, path):
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError:
            return
        if mtime == self.mtime:
            return
        try:
            with open(path) as f:
                conf = json.load(f)
            delay = max(0.0, min(float(conf.get("delay_ms", 0)), 10000.0)) / 1000
            extra = {ipaddress.ip_address(k).packed: max(0.0, min(float(v), 10000.0)) / 1000
                     for k, v in (conf.get("extra_ms") or {}).items()}
            drop = {ipaddress.ip_address(a).packed for a in conf.get("drop") or []}
            drop_all = bool(conf.get("drop_all", False))
        except (OSError, ValueError, TypeError, AttributeError) as e:
            print(f"delaylink: {path}: {e}; keeping the previous settings", file=sys.stderr, flush=True)
            return
        self.delay, self.extra, self.drop, self.drop_all, self.mtime = delay, extra, drop, drop_all, mtime
        print(f"delaylink: delay {delay * 1000:.0f} ms, extra {conf.get('extra_ms') or {}}, "
              f"drop {conf.get('drop') or []}, drop_all {drop_all}", flush=True)


def addresses(frame):
    """Source and destination address bytes of an IPv4 or IPv6 frame (no VLAN tags here)."""
    if len(frame) < 14:
        return ()
    ethertype = frame[12] << 8 | frame[13]
    if ethertype == 0x0800 and len(frame) >= 34:
        return (frame[26:30], frame[30:34])
    if ethertype == 0x86DD and len(frame) >= 54:
        return (frame[22:38], frame[38:54])
    return ()


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    names = sys.argv[1:3]
    control = sys.argv[3]
    socks = []
    for name in names:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        s.bind((name, 0))
        s.setblocking(False)
        socks.append(s)
    other = {socks[0].fileno(): socks[1], socks[1].fileno(): socks[0]}
    settings = Settings()
    settings.reload(control)
    queue = []  # (due, seq, socket to send on, frame)
    seq = 0
    next_reload = 0.0
    print(f"delaylink: {names[0]} <-> {names[1]}", flush=True)
    while True:
        now = time.monotonic()
        if now >= next_reload:
            settings.reload(control)
            next_reload = now + 0.1
        while queue and queue[0][0] <= now:
            _, _, out, frame = heapq.heappop(queue)
            try:
                out.send(frame)
            except OSError:
                pass  # the link went away or its buffer is full: the frame is lost, as on a wire
        timeout = min(next_reload, queue[0][0] if queue else next_reload) - time.monotonic()
        readable, _, _ = select.select(socks, [], [], max(0.0, timeout))
        for s in readable:
            for _ in range(256):
                try:
                    frame, addr = s.recvfrom(65535)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue  # our own send, seen again on the way out
                if settings.drop_all:
                    continue
                delay = settings.delay
                for a in addresses(frame):
                    if a in settings.drop:
                        delay = None
                        break
                    delay += settings.extra.get(a, 0.0)
                if delay is None or len(queue) >= MAX_QUEUED:
                    continue
                seq += 1
                heapq.heappush(queue, (time.monotonic() + delay, seq, other[s.fileno()], frame))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
