#!/bin/sh
# Fan-out benchmark: simulated nodes hold map long-polls against one meshcoord (release build);
# then one change: one node changes its endpoints (the default), or --change policy: a new
# access policy that changes every node's packet filter (nodes of users alice and bob and
# tagged tag:web; every answer is checked to carry the new filter). Reports the time until
# every poll has its answer, and the server's peak RSS.
#   Benchmarks/coordinator_fanout.sh [--change endpoints|policy] [NODES...]   (default: 1000 10000)
# MESHCOORD: the binary (default: the release build's). Needs python3 with PyNaCl
# (pip install pynacl). Everything stays on 127.0.0.1.
set -e
cd "$(dirname "$0")/.."
BIN=${MESHCOORD:-$(swift build -c release --show-bin-path)/meshcoord}
[ -x "$BIN" ] || swift build -c release --product meshcoord
python3 -c 'import nacl' 2>/dev/null || { echo "needs PyNaCl: pip install pynacl" >&2; exit 1; }
# Each poll is one connection at the server and one at the client.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec python3 Benchmarks/coordinator_fanout.py "$BIN" "$@"
