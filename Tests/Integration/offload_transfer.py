#!/usr/bin/env python3
"""offload_transfer.py - end-to-end checks for the offload tests (meshd_offloads.sh).

  serve-tcp ADDR PORT          accept one connection, read to EOF, print "<sha256> <bytes>"
  send-tcp ADDR PORT FILE      send FILE over one connection, print "<sha256> <bytes>" of what was sent
  serve-udp ADDR PORT COUNT    receive numbered datagrams until COUNT arrived or 5 s of quiet;
                               print "received=N intact=N corrupt=N"
  send-udp-gso ADDR PORT COUNT SIZE PER_SEND
                               send COUNT numbered datagrams of SIZE bytes, PER_SEND at a time in
                               one UDP_SEGMENT (GSO) send, so the kernel hands the TUN UDP super-packets
Every datagram carries its number and a payload derived from it, so any byte changed in
segmentation or reassembly shows up as corrupt.
"""
import hashlib
import socket
import struct
import sys
import time

UDP_SEGMENT = 103


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def serve_tcp(addr, port):
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(1)
    s.settimeout(60)
    c, _ = s.accept()
    c.settimeout(60)
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        h.update(b)
        n += len(b)
    print(h.hexdigest(), n, flush=True)


def send_tcp(addr, port, path):
    c = socket.create_connection((addr, port), timeout=60)
    h, n = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            c.sendall(b)
            h.update(b)
            n += len(b)
    c.shutdown(socket.SHUT_WR)
    c.recv(1)
    print(h.hexdigest(), n, flush=True)


def datagram(i, size):
    seed = hashlib.sha256(struct.pack("!I", i)).digest()
    body = (seed * (size // 32 + 1))[: size - 4]
    return struct.pack("!I", i) + body


def serve_udp(addr, port, count):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((addr, port))
    s.settimeout(5)
    seen, intact, corrupt = set(), 0, 0
    while len(seen) < count:
        try:
            b = s.recv(65535)
        except socket.timeout:
            break
        if len(b) < 4:
            corrupt += 1
            continue
        i = struct.unpack("!I", b[:4])[0]
        if b == datagram(i, len(b)):
            intact += 1
            seen.add(i)
        else:
            corrupt += 1
    print(f"received={len(seen)} intact={intact} corrupt={corrupt}", flush=True)


def send_udp_gso(addr, port, count, size, per_send):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_UDP, UDP_SEGMENT, size)
    s.connect((addr, port))
    i = 0
    while i < count:
        n = min(per_send, count - i)
        s.send(b"".join(datagram(i + k, size) for k in range(n)))
        i += n
        # Paced, so a slow receiver in a busy CI box does not drop: about 10 MB/s.
        time.sleep(n * size / 10e6)
    print(f"sent={count}", flush=True)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "serve-tcp":
        serve_tcp(args[0], int(args[1]))
    elif cmd == "send-tcp":
        send_tcp(args[0], int(args[1]), args[2])
    elif cmd == "serve-udp":
        serve_udp(args[0], int(args[1]), int(args[2]))
    elif cmd == "send-udp-gso":
        send_udp_gso(args[0], int(args[1]), int(args[2]), int(args[3]), int(args[4]))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
