#!/usr/bin/env bash
# join_direct.sh - meshd joins a coordinator and reaches its peer directly.
#
#   ns a: eth0 192.0.2.2/24  ──  ns c (public host, routes): va 192.0.2.1/24, vb 203.0.113.1/24
#   ns b: eth0 203.0.113.2/24 ─┘   meshcoord serve on 192.0.2.1:8080
#
# `meshcoord authkey create` makes a token; `meshd up --join TOKEN` in a and b; each publishes
# its interface address as endpoint and takes the other as a WireGuard peer from the netmap.
# Checks: ping over the overlay IPv4 both ways (and IPv6), `meshctl status --json` shows the
# node's name, addresses and the peer by name; a restart of a (SIGTERM, clean exit) reuses its
# identity without the token; with meshcoord stopped the tunnel keeps working and both nodes
# reconnect when it is back; `meshcoord node remove` takes b out of a's peers for good.
set -euo pipefail
source "$(dirname "$0")/lab.sh"
lab_mesh_bin
[[ -x $MESH_BIN/meshcoord ]] || lab_fail "no meshcoord at $MESH_BIN/meshcoord"

lab_ns_add a b c
lab_veth a eth0 192.0.2.2/24 c va 192.0.2.1/24
lab_veth b eth0 203.0.113.2/24 c vb 203.0.113.1/24
lab_in a ip route add default via 192.0.2.1
lab_in b ip route add default via 203.0.113.1
lab_in c sysctl -qw net.ipv4.ip_forward=1
for n in a b; do lab_in "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0; done
lab_check "underlay ping a->b via c" lab_q lab_in a ping -n -c 1 -W 2 203.0.113.2

COORD_DIR=$LAB_DIR/coord
lab_start coord c "$MESH_BIN/meshcoord" serve --state-dir "$COORD_DIR" --listen 192.0.2.1:8080 \
    --stun-ports none --public-url http://192.0.2.1:8080
lab_wait_until 20 "meshcoord listening" lab_listening c tcp 8080
lab_wait_until 10 "admin socket answers" lab_q "$MESH_BIN/meshcoord" authkey list --state-dir "$COORD_DIR"
TOKEN=$("$MESH_BIN/meshcoord" authkey create --reusable --state-dir "$COORD_DIR" 2>/dev/null)
[[ $TOKEN == mesh1_* ]] || lab_fail "authkey create gave no token: $TOKEN"
lab_pass "join token made"

meshd_ready() { lab_alive "$1" && lab_link_up "$2" mesh0 && lab_meshctl "$1" status --json >/dev/null 2>&1; }
up() { # NAME NS NODE [--join TOKEN]: process NAME runs node NODE (state dir and hostname)
    local name=$1 ns=$2 node=$3; shift 3
    rm -f "$LAB_DIR/$name.sock"
    lab_start "$name" "$ns" "$MESH_BIN/meshd" up "$@" --hostname "$node" --state-dir "$LAB_DIR/$node-state" \
        --socket "$LAB_DIR/$name.sock" --port 41641
    lab_wait_until 20 "meshd up $name in $ns (mesh0 up, API answers)" meshd_ready "$name" "$ns"
}
# status_has NAME PYTHON_EXPR: the status JSON satisfies EXPR (j = parsed JSON)
status_has() {
    lab_meshd_status "$1" || return 1
    [[ $(lab_json "$LAB_DIR/$1.status.json" "bool($2)") == True ]]
}
field() { lab_json "$LAB_DIR/$1.status.json" "$2"; }

T0=$EPOCHREALTIME
up a a a --join "$TOKEN"
up b b b --join "$TOKEN"
lab_wait_until 5 "a sees peer b in its netmap" status_has a "[p for p in j['peers'] if p.get('name') == 'b']"
lab_wait_until 5 "b sees peer a in its netmap" status_has b "[p for p in j['peers'] if p.get('name') == 'a']"
A4=$(field a "j['ipv4']"); B4=$(field b "j['ipv4']")
A6=$(field a "j['ipv6']"); B6=$(field b "j['ipv6']")
lab_info "a = $A4 $A6, b = $B4 $B6"
lab_check "a's status: name a, overlay IPv4 in 100.64.0.0/10, control connected" \
    status_has a "j['name'] == 'a' and j['ipv4'].startswith('100.') and j['control'] == 'connected'"
lab_check "a's peer b has b's endpoint 203.0.113.2:41641" \
    status_has a "[p for p in j['peers'] if p['name'] == 'b' and p['endpoint'] == '203.0.113.2:41641' and p['ipv4'] == '$B4']"

ping_ok() { lab_in "$1" ping -n -c 1 -W 1 "$2" >/dev/null 2>&1; }
lab_wait_until 10 "ping a -> b over the overlay ($B4)" ping_ok a "$B4"
lab_info "time from starting the nodes to the first overlay ping: $(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')s"
lab_wait_until 10 "ping b -> a over the overlay ($A4)" ping_ok b "$A4"
lab_check "3/3 pings a -> b" lab_ping_ok a "$B4" 3
if lab_poll 10 lab_in a ping -6 -n -c 1 -W 1 "$B6"; then lab_pass "ping6 a -> b over the overlay ($B6)"; else lab_warn "no IPv6 overlay ping a -> b"; fi
lab_check "a reports a handshake with b" status_has a "[p for p in j['peers'] if p['name'] == 'b' and p.get('lastHandshakeSecondsAgo') is not None and p['rxBytes'] > 0]"
lab_meshctl a status | sed 's/^/      a: /' || lab_fail "meshctl status (table) failed"

# Restart a: SIGTERM exits cleanly; without --join it comes back as the same node.
A_PID=$(lab_pid a)
kill -TERM "$A_PID"
lab_wait_until 5 "meshd a exits on SIGTERM" _lab_pid_gone "$A_PID"
wait "$A_PID" && rc=0 || rc=$?
lab_check "meshd a exited with status 0 (got $rc)" test "$rc" -eq 0
lab_check "a logged a clean stop" grep -q "meshd stopped" "$(lab_logfile a)"
unset 'LAB_PID[a]'
up a2 a a
lab_check "restarted a reused its saved identity" grep -q "reusing saved identity" "$(lab_logfile a2)"
lab_wait_until 5 "restarted a has the same IPv4 $A4 and follows the netmap" \
    status_has a2 "j['ipv4'] == '$A4' and j['name'] == 'a' and [p for p in j['peers'] if p.get('name') == 'b']"
lab_wait_until 10 "ping a -> b after the restart" ping_ok a "$B4"
lab_wait_until 10 "ping b -> a after the restart" ping_ok b "$A4"

# Coordinator outage: tunnels keep working; the nodes reconnect by themselves when it is back.
lab_stop coord
lab_wait_until 10 "a notices the coordinator is gone" status_has a2 "j['control'] == 'unreachable'"
lab_check "3/3 pings a -> b with the coordinator down" lab_ping_ok a "$B4" 3
lab_start coord2 c "$MESH_BIN/meshcoord" serve --state-dir "$COORD_DIR" --listen 192.0.2.1:8080 \
    --stun-ports none --public-url http://192.0.2.1:8080
lab_wait_until 20 "meshcoord listening again" lab_listening c tcp 8080
lab_wait_until 40 "a reconnects to the coordinator" status_has a2 "j['control'] == 'connected'"
lab_wait_until 40 "b reconnects to the coordinator" status_has b "j['control'] == 'connected'"

# The admin removes b: a drops it from its peers.
B_ID=$("$MESH_BIN/meshcoord" node list --json --state-dir "$COORD_DIR" | $LAB_PY -c 'import json,sys; print([n["id"] for n in json.load(sys.stdin) if n["name"] == "b"][0])')
lab_q "$MESH_BIN/meshcoord" node remove --state-dir "$COORD_DIR" "$B_ID" || lab_fail "meshcoord node remove $B_ID"
lab_wait_until 3 "a drops b after the admin removed it" status_has a2 "not [p for p in j['peers'] if p.get('name') == 'b']"
lab_wait_until 3 "b knows it was removed" status_has b "j['control'] == 'removed' and not j['peers']"
lab_check "a still running" lab_alive a2
lab_check "b still running" lab_alive b
lab_done "join, direct ping both ways, restart keeps identity, removal propagates"
