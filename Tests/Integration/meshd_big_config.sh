#!/usr/bin/env bash
# meshd_big_config.sh - a wg-quick config with 100,000 peers: meshd loads it (linear time in the
# number of routes) and a SIGTERM during the load stops it at once instead of after it.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"
lab_mesh_bin
lab_ns_add big

"$LAB_PY" - "$LAB_DIR/big.conf" <<'PY'
import base64, os, sys
out = ["[Interface]", "PrivateKey = " + base64.b64encode(os.urandom(32)).decode(), "Address = 10.99.0.1/16"]
for i in range(100000):
    out += ["[Peer]", "PublicKey = " + base64.b64encode(os.urandom(32)).decode(),
            "AllowedIPs = 10.%d.%d.%d/32" % (100 + i // 65536, (i // 256) % 256, i % 256)]
with open(sys.argv[1], "w") as f:
    f.write("\n".join(out) + "\n")
PY
chmod 600 "$LAB_DIR/big.conf"

# SIGTERM in the middle of the load
lab_start early big "$MESH_BIN/meshd" run --config "$LAB_DIR/big.conf" --interface big0 --socket "$LAB_DIR/early.sock"
loading() { [[ $(lab_cpu_ticks "$(lab_pid early)") -gt $((HZ / 2)) ]]; }  # half a second of CPU into the load
HZ=$(getconf CLK_TCK)
lab_wait_until 20 "meshd is loading the peers" loading
t0=$EPOCHREALTIME
kill -TERM "$(lab_pid early)"
lab_wait_until 2 "meshd exits within 2 s of SIGTERM during the load" bash -c "! kill -0 $(lab_pid early) 2>/dev/null || grep -q '^State:.*Z' /proc/$(lab_pid early)/status"
lab_info "gone $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b-a}') s after SIGTERM: $(tail -n 1 "$(lab_logfile early)")"
lab_check "it said so" grep -q "stopped during start-up\|meshd stopped" "$(lab_logfile early)"
lab_stop early

# A full load
t0=$EPOCHREALTIME
lab_start full big "$MESH_BIN/meshd" run --config "$LAB_DIR/big.conf" --interface big1 --socket "$LAB_DIR/full.sock"
lab_wait_until 60 "meshd is up with 100,000 peers" test -S "$LAB_DIR/full.sock"
lab_info "100,000 peers loaded in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}') s"
t0=$EPOCHREALTIME
lab_stop full
lab_done "SIGTERM during a 100,000-peer load answered at once; full load measured"
