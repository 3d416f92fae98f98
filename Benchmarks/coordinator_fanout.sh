#!/bin/sh
# Fan-out benchmark: simulated nodes hold map long-polls against one meshcoord (release build);
# one node changes its endpoints; reports the time until every poll has its answer, and the
# server's peak RSS. Usage: Benchmarks/coordinator_fanout.sh [NODES...]   (default: 1000 10000)
# Needs python3 with PyNaCl (pip install pynacl). Everything stays on 127.0.0.1.
set -e
cd "$(dirname "$0")/.."
BIN=.build/release/meshcoord
[ -x "$BIN" ] || swift build -c release --product meshcoord
python3 -c 'import nacl' 2>/dev/null || { echo "needs PyNaCl: pip install pynacl" >&2; exit 1; }
# Each poll is one connection at the server and one at the client.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec python3 Benchmarks/coordinator_fanout.py "$BIN" "$@"
