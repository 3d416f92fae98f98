#!/usr/bin/env bash
# meshd_pair.sh - meshd <-> meshd over a veth between two namespaces.
#
#   ns a: veth 10.77.0.1/24, overlay 10.100.0.1/24     ns b: veth 10.77.0.2/24, overlay 10.100.0.2/24
#
# Round 1: a initiates (only a's config has an Endpoint); round 2: fresh keys and processes,
# b initiates. Each round: ping both ways, iperf3 TCP (IPERF_SECS, 5 s) a->b, and
# `meshctl status --json` on both sides shows the peer with a handshake and rx/tx bytes > 0.
#
# PAIR_IMPL=wireguard-go runs the same test with wireguard-go on both sides (a self-test of
# the lab itself, no meshd needed).
set -euo pipefail
source "$(dirname "$0")/lab.sh"

IMPL=${PAIR_IMPL:-meshd}
IPERF_SECS=${IPERF_SECS:-5}
MTU=${MTU:-1280}
[[ $IMPL == meshd ]] && lab_mesh_bin

lab_ns_add a b
lab_veth a veth0 10.77.0.1/24 b veth0 10.77.0.2/24
lab_check "underlay ping a->b" lab_q lab_in a ping -n -c 1 -W 2 10.77.0.2

RESULTS=()
round() { # NUMBER INITIATOR(a|b)
    local r=$1 init=$2
    lab_info "=== round $r: $IMPL pair, $init initiates"
    lab_node_genkey "$IMPL" "$LAB_DIR/a$r"
    lab_node_genkey "$IMPL" "$LAB_DIR/b$r"
    local ep_a="" ep_b=""
    if [[ $init == a ]]; then ep_a=10.77.0.2:51820; else ep_b=10.77.0.1:51820; fi
    # the responder first, so the initiator's first packet finds it listening
    if [[ $init == a ]]; then
        lab_node_up "$IMPL" "b$r" b 10.100.0.2/24 51820 "$MTU" "$LAB_DIR/b$r" "$LAB_DIR/a$r.pub" 10.100.0.1/32 "$ep_b"
        lab_node_up "$IMPL" "a$r" a 10.100.0.1/24 51820 "$MTU" "$LAB_DIR/a$r" "$LAB_DIR/b$r.pub" 10.100.0.2/32 "$ep_a"
        lab_tunnel_ping a 10.100.0.2 "round $r: a->b"
        lab_tunnel_ping b 10.100.0.1 "round $r: b->a"
    else
        lab_node_up "$IMPL" "a$r" a 10.100.0.1/24 51820 "$MTU" "$LAB_DIR/a$r" "$LAB_DIR/b$r.pub" 10.100.0.2/32 "$ep_a"
        lab_node_up "$IMPL" "b$r" b 10.100.0.2/24 51820 "$MTU" "$LAB_DIR/b$r" "$LAB_DIR/a$r.pub" 10.100.0.1/32 "$ep_b"
        lab_tunnel_ping b 10.100.0.1 "round $r: b->a"
        lab_tunnel_ping a 10.100.0.2 "round $r: a->b"
    fi

    lab_iperf_server "iperf-$r" b
    lab_iperf_check a 10.100.0.2 "$IPERF_SECS" "round $r: a->b"
    RESULTS+=("round $r ($init initiates): $LAB_MBPS Mbit/s")

    local st
    st=$(lab_node_peer_ok "a$r" a "$LAB_DIR/b$r.pub") || lab_fail "round $r: a's status does not show b with a handshake and traffic: $st"
    lab_pass "round $r: a sees b: $st"
    st=$(lab_node_peer_ok "b$r" b "$LAB_DIR/a$r.pub") || lab_fail "round $r: b's status does not show a with a handshake and traffic: $st"
    lab_pass "round $r: b sees a: $st"
    if [[ $IMPL == meshd ]]; then
        # the responder learnt the initiator's endpoint from its packets
        local want=10.77.0.1:51820 side=b peer=a
        [[ $init == b ]] && { want=10.77.0.2:51820; side=a; peer=b; }
        local got; got=$(lab_json "$LAB_DIR/$side$r.status.json" "[p['endpoint'] for p in j['peers']][0]")
        lab_check "round $r: $side learnt $peer's endpoint $want (got $got)" test "$got" = "$want"
        lab_meshctl "a$r" status | sed 's/^/      a: /' || lab_fail "meshctl status (table) failed"
        lab_meshctl "b$r" status | sed 's/^/      b: /' || lab_fail "meshctl status (table) failed"
    fi
    lab_check "round $r: a still running" lab_alive "a$r"
    lab_check "round $r: b still running" lab_alive "b$r"

    lab_stop "iperf-$r"
    lab_node_down "a$r"
    lab_node_down "b$r"
}

round 1 a
round 2 b
lab_done "$IMPL pair: $(IFS=';'; echo "${RESULTS[*]}")"
