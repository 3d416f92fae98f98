#!/usr/bin/env bash
# garbage.sh - meshd keeps working while its UDP port is flooded with garbage.
#
#   ns a (meshd, initiator) --veth 10.77.0.0/24-- ns b (meshd) --veth 10.78.0.0/24-- ns c (attacker)
#
# A ping a->b runs through the tunnel (every 0.2 s) while c sends GARBAGE_COUNT (100,000)
# random, WireGuard-looking, STUN-looking, disco-looking and truncated datagrams to b's
# meshd port (udp_garbage.py, paced at GARBAGE_PPS, 20,000/s; 0 = unpaced).
# Verdict: b's meshd still alive; ping loss during the flood <= MAX_LOSS_PCT (10); ping works
# after; b's droppedDatagrams increased by >= GARBAGE_MIN_COUNTED (50,000). The kernel's UDP
# receive-buffer drops in b (RcvbufErrors) are reported next to it.
#
# PAIR_IMPL=wireguard-go: the same flood against wireguard-go (lab self-test; no counter check).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"

IMPL=${PAIR_IMPL:-meshd}
LAB_WG_LOG_LEVEL=${LAB_WG_LOG_LEVEL:-error}   # (self-test) verbose would log every datagram
COUNT=${GARBAGE_COUNT:-100000}
PPS=${GARBAGE_PPS:-20000}
MIN_COUNTED=${GARBAGE_MIN_COUNTED:-50000}
MAX_LOSS_PCT=${MAX_LOSS_PCT:-10}
[[ $IMPL == meshd ]] && lab_mesh_bin

lab_ns_add a b c
lab_veth a veth0 10.77.0.1/24 b veth0 10.77.0.2/24
lab_veth c veth0 10.78.0.1/24 b veth1 10.78.0.2/24

lab_node_genkey "$IMPL" "$LAB_DIR/a"
lab_node_genkey "$IMPL" "$LAB_DIR/b"
lab_node_up "$IMPL" b b 10.100.0.2/24 51820 1280 "$LAB_DIR/b" "$LAB_DIR/a.pub" 10.100.0.1/32
lab_node_up "$IMPL" a a 10.100.0.1/24 51820 1280 "$LAB_DIR/a" "$LAB_DIR/b.pub" 10.100.0.2/32 10.77.0.2:51820
lab_tunnel_ping a 10.100.0.2 "before the flood: a->b"
lab_check "attacker c reaches b's underlay address" lab_q lab_in c ping -q -n -c 1 -W 2 10.78.0.2

dropped() { # b's droppedDatagrams counter
    lab_meshd_status b && lab_json "$LAB_DIR/b.status.json" "j['droppedDatagrams']"
}
udp_stat() { # FIELD: a counter of ns b's /proc/net/snmp Udp line
    lab_in b cat /proc/net/snmp | awk -v f="$1" '
        $1 == "Udp:" && !h { for (i = 2; i <= NF; i++) idx[$i] = i; h = 1; next }
        $1 == "Udp:" && h { print $(idx[f]) }'
}

if [[ $IMPL == meshd ]]; then
    D0=$(dropped) || lab_fail "meshctl status --json failed before the flood"
    lab_info "droppedDatagrams before the flood: $D0"
fi
RB0=$(udp_stat RcvbufErrors)
IN0=$(udp_stat InDatagrams)

# line-buffered, so the log can be polled while ping runs
lab_start ping a stdbuf -oL ping -n -i 0.2 10.100.0.2
lab_wait_until 5 "background ping a->b answered" grep -q 'bytes from' "$(lab_logfile ping)"

lab_info "flood: $COUNT datagrams from c to 10.78.0.2:51820 at ${PPS} pps (0 = unpaced)"
lab_run --out "$LAB_DIR/flood.json" lab_in c timeout 300 "$LAB_PY" "$HERE/udp_garbage.py" \
    10.78.0.2 51820 --count "$COUNT" --pps "$PPS" || lab_fail "udp_garbage.py failed: $(cat "$LAB_DIR/flood.json.err")"
lab_info "flood done: $(cat "$LAB_DIR/flood.json")"
SENT=$(lab_json "$LAB_DIR/flood.json" "j['sent']")

lab_check "b still running right after the flood" lab_alive b
# one more echo reply after the flood, so the ping window covers it all
replies() { grep -c 'bytes from' "$(lab_logfile ping)" || true; }
more_replies_than() { [[ $(replies) -gt $1 ]]; }
N_BEFORE=$(replies)
lab_wait_until 5 "background ping still answered after the flood" more_replies_than "$((N_BEFORE + 1))"
lab_stop ping INT
LOSS=$("$LAB_PY" - "$(lab_logfile ping)" <<'EOF'
import re, sys
txt = open(sys.argv[1]).read()
seqs = {int(m) for m in re.findall(r"icmp_seq=(\d+) ttl", txt)}
m = re.search(r"(\d+) packets transmitted", txt)
sent = int(m.group(1)) if m else (max(seqs) if seqs else 0)
# the last request may still have been in flight when ping was stopped
window = range(1, max(sent, 1))
lost = sum(1 for s in window if s not in seqs)
n = max(len(window), 1)
print(f"{100.0 * lost / n:.1f} {lost} {n}")
EOF
)
read -r LOSS_PCT LOST NPINGS <<< "$LOSS"
lab_info "ping a->b during the flood: $LOST of $NPINGS lost ($LOSS_PCT %)"
awk -v l="$LOSS_PCT" -v m="$MAX_LOSS_PCT" 'BEGIN{exit !(l <= m)}' \
    || lab_fail "ping loss during the flood $LOSS_PCT % > $MAX_LOSS_PCT %"
lab_pass "ping loss during the flood $LOSS_PCT % <= $MAX_LOSS_PCT %"

lab_tunnel_ping a 10.100.0.2 "after the flood: a->b"
lab_tunnel_ping b 10.100.0.1 "after the flood: b->a"

RB1=$(udp_stat RcvbufErrors)
IN1=$(udp_stat InDatagrams)
KDROP=$((RB1 - RB0))
lab_info "kernel (ns b): UDP InDatagrams +$((IN1 - IN0)), RcvbufErrors +$KDROP (datagrams dropped by a full receive buffer)"

SUMMARY="sent $SENT, kernel rcvbuf drops $KDROP, ping loss $LOSS_PCT %"
if [[ $IMPL == meshd ]]; then
    # wait until meshd has drained its socket: the counter stops moving
    PREV=-1
    stable() {
        local d; d=$(dropped) || return 1
        if [[ $d == "$PREV" ]]; then return 0; fi
        PREV=$d; sleep 0.4; return 1
    }
    lab_wait_until 20 "droppedDatagrams stops increasing" stable
    D1=$(dropped) || lab_fail "meshctl status --json failed after the flood"
    COUNTED=$((D1 - D0))
    lab_info "garbage sent: $SENT; counted by meshd (droppedDatagrams delta): $COUNTED ($D0 -> $D1); kernel receive-buffer drops: $KDROP"
    lab_check "droppedDatagrams increased" test "$D1" -gt "$D0"
    lab_check "droppedDatagrams delta $COUNTED >= $MIN_COUNTED" test "$COUNTED" -ge "$MIN_COUNTED"
    st=$(lab_meshd_peer_ok b "$LAB_DIR/a.pub") || lab_fail "b no longer shows a healthy peer a: $st"
    lab_pass "b's peer a after the flood: $st"
    SUMMARY="$SUMMARY, counted by meshd $COUNTED"
fi
lab_check "b still running at the end" lab_alive b
lab_check "a still running at the end" lab_alive a
lab_done "$SUMMARY"
