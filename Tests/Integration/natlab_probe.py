#!/usr/bin/env python3
"""UDP mapping probe for the NAT lab's self-test.

server: listens on the given ports of the given addresses and answers every datagram with
        "ip:port" of its source, as a STUN server would (and nothing else).
client: from one local port, asks each server address in turn and prints what each saw,
        one line per server, or "timeout".
"""
import socket
import sys


def server(binds):
    socks = []
    for b in binds:
        host, port = b.rsplit(":", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((host, int(port)))
        socks.append(s)
    host, port = binds[0].rsplit(":", 1)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((host, int(port)))
    tcp.listen(8)
    import selectors
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    sel.register(tcp, selectors.EVENT_READ)
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            if key.fileobj is tcp:
                conn, addr = tcp.accept()
                conn.sendall(f"{addr[0]}:{addr[1]}".encode())
                conn.close()
                continue
            data, addr = key.fileobj.recvfrom(2048)
            key.fileobj.sendto(f"{addr[0]}:{addr[1]}".encode(), addr)


def client(lport, targets):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", lport))
    s.settimeout(1.0)
    for t in targets:
        host, port = t.rsplit(":", 1)
        answer = "timeout"
        for _ in range(3):
            s.sendto(b"probe", (host, int(port)))
            try:
                data, src = s.recvfrom(2048)
                if src == (host, int(port)):
                    answer = data.decode()
                    break
            except socket.timeout:
                continue
        print(answer, flush=True)


def tcp_client(target):
    host, port = target.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=3) as c:
        print(c.recv(100).decode(), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(sys.argv[2:])
    elif sys.argv[1] == "tcp":
        tcp_client(sys.argv[2])
    else:
        client(int(sys.argv[2]), sys.argv[3:])
