#!/usr/bin/env bash
# Access policy enforced at the receiving node (issue 11 item 4), reduced: a and b behind eim,
# b tagged tag:db, policy "* -> tag:db:5432,5433". Checks: without a policy every port is
# reachable; once the policy is set (within 2 s) a reaches b:5432 and replies flow, a's
# connection to a listening b:8022 is refused at once (RST from b's filter, not a timeout), the
# database host b cannot open connections back to a, drops are counted as acl on both sides; a
# policy whose tests contradict its rules is refused and the running one stays. Then 5433 is
# removed: an established connection to it is cut within 1 s.
# NATLAB_IPV6=dual adds the overlay IPv6 checks; MESH_POLICY_NAT_A=block-udp puts a behind the
# relay (its packets reach b through receiveFromRelay). The issue's whole Done-means (users,
# group:dev, autogroup:member, tag:web, four nodes, netmap visibility) is mesh_policy_groups.sh.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/meshlab.sh"
meshlab_up "${MESH_POLICY_NAT_A:-eim}" "${MESH_POLICY_NAT_B:-eim}"
A=$MESHLAB_A4 B=$MESHLAB_B4
if [[ ${MESH_POLICY_NAT_A:-eim} == block-udp ]]; then meshlab_wait_path b a relay 10; fi
coord() { "$MESH_BIN/meshcoord" "$@" --state-dir "$LAB_DIR/coord"; }

# Listeners: b:5432 (the database), b:8022 (anything else), a:5432 (for b to try).
listen() { # NAME NS PORT
    lab_start "$1" "$2" python3 -c "
import socket
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); s.bind(('::', $3)); s.listen(16)
while True:
    c, _ = s.accept(); c.sendall(b'hello\n'); c.close()"
    lab_wait_until 5 "$1 listening on $3" lab_listening "$2" tcp "$3"
}
listen db b 5432
# b:5433 echoes each line for as long as the client keeps its connection open.
lab_start echo b python3 -c "
import socket, threading
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); s.bind(('::', 5433)); s.listen(16)
def serve(c):
    while True:
        d = c.recv(64)
        if not d: return
        c.sendall(d)
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()"
lab_wait_until 5 "echo listening on 5433" lab_listening b tcp 5433
listen other b 8022
listen back a 5432

# reply NS HOST PORT: the listener's greeting comes back (replies flow)
reply() { lab_in "$1" timeout 2 python3 -c "
import socket; s = socket.create_connection(('$2', $3), timeout=2); assert s.recv(16) == b'hello\n'"; }

lab_check "no policy: a reaches b:5432" reply a "$B" 5432
lab_check "no policy: a reaches b:8022" reply a "$B" 8022
lab_check "no policy: b reaches a:5432" reply b "$A" 5432

B_ID=$(coord node list --json | python3 -c "import json,sys; print([n['id'] for n in json.load(sys.stdin) if n['name']=='b'][0])")
coord node tag "$B_ID" tag:db >/dev/null
cat > "$LAB_DIR/policy.hujson" <<'P'
{
  // The database host takes 5432 from everyone, nothing else; nobody else takes anything.
  "tagOwners": {"tag:db": []},
  "acls": [
    {"action": "accept", "src": ["*"], "dst": ["tag:db:5432,5433"]},
  ],
}
P
coord policy set "$LAB_DIR/policy.hujson" >/dev/null
SET_AT=$EPOCHREALTIME
lab_wait_until 2 "b:8022 refused after the policy" lab_tcp_closed a "$B" 8022
IN_FORCE=$(meshlab_since "$SET_AT")
lab_pass "policy in force at b ${IN_FORCE} s after policy set"
lab_check "a reaches b:5432 and its replies flow" reply a "$B" 5432
# The overlay's IPv6 exists only where the namespaces have IPv6 (NATLAB_IPV6=dual or only).
A6=$(meshlab_field a "j['ipv6']") B6=$(meshlab_field b "j['ipv6']")
# Read whole first: `ip | grep -q` under pipefail fails when grep's early exit cuts ip's pipe.
A_ADDRS=$(lab_in a ip -o -6 addr show) B_ADDRS=$(lab_in b ip -o -6 addr show)
if [[ -n $A6 && -n $B6 && $A_ADDRS == *"$A6"* && $B_ADDRS == *"$B6"* ]]; then
    lab_check "over IPv6 too: a reaches [$B6]:5432" reply a "$B6" 5432
    lab_check "over IPv6 too: [$B6]:8022 refused" lab_tcp_closed a "$B6" 8022
else
    lab_info "no overlay IPv6 in this lab (NATLAB_IPV6=${NATLAB_IPV6:-off}): IPv6 checks skipped"
fi
# Refused at once: the SYN is answered with a RST through the tunnel.
T0=$EPOCHREALTIME
if lab_in a timeout 5 bash -c "exec 3<>/dev/tcp/$B/8022" 2>"$LAB_DIR/refused.err"; then lab_fail "a connected to b:8022"; fi
REFUSED_IN=$(meshlab_since "$T0")
grep -q "refused" "$LAB_DIR/refused.err" || lab_fail "a's connect to b:8022 was not refused: $(cat "$LAB_DIR/refused.err")"
awk -v t="$REFUSED_IN" 'BEGIN{exit !(t < 1)}' || lab_fail "refusal took ${REFUSED_IN}s"
lab_pass "a's connect to b:8022 refused in ${REFUSED_IN}s (connection refused)"
lab_wait_until 2 "b (tag:db) cannot open a connection to a:5432" lab_tcp_closed b "$A" 5432
lab_wait_until 2 "b counts acl drops" meshlab_status_has b "j['drops'].get('acl', 0) >= 2"
lab_wait_until 2 "a counts acl drops" meshlab_status_has a "j['drops'].get('acl', 0) >= 1"
lab_info "drops: a $(meshlab_field a "j['drops']"), b $(meshlab_field b "j['drops']")"

# A policy whose own tests contradict its rules is refused; the running one stays.
cat > "$LAB_DIR/bad.hujson" <<'P'
{
  "tagOwners": {"tag:db": []},
  "acls": [{"action": "accept", "src": ["*"], "dst": ["tag:db:5432"]}],
  "tests": [{"src": "tag:db", "accept": ["tag:db:8022"]}],
}
P
if coord policy set "$LAB_DIR/bad.hujson" > "$LAB_DIR/bad.out" 2>&1; then lab_fail "a contradicting policy was accepted"; fi
lab_pass "contradicting policy refused: $(head -c 200 "$LAB_DIR/bad.out")"
lab_check "the old policy stays: a reaches b:5432" reply a "$B" 5432
lab_check "the old policy stays: b:8022 refused" lab_tcp_closed a "$B" 8022
# An established connection to 5433 (a line every 50 ms, each echoed) is cut when the policy
# no longer allows 5433: its next segment meets b's flowCut and a RST.
lab_start client a python3 -u -c "
import socket, time
s = socket.create_connection(('$B', 5433), timeout=2)
print('connected', flush=True)
try:
    while True:
        s.sendall(b'x\n'); assert s.recv(64) == b'x\n'; time.sleep(0.05)
except Exception as e:
    print('ended', time.time(), type(e).__name__, flush=True)"
lab_wait_until 5 "a's connection to b:5433 carries data" grep -q connected "$LAB_DIR/client.log"
sed -i 's/tag:db:5432,5433/tag:db:5432/' "$LAB_DIR/policy.hujson"
coord policy set "$LAB_DIR/policy.hujson" >/dev/null
CHANGED_AT=$EPOCHREALTIME
lab_wait_until 3 "the connection to b:5433 ends" grep -q ended "$LAB_DIR/client.log"
CUT_IN=$(awk -v a="$CHANGED_AT" -v e="$(awk '/^ended/{print $2}' "$LAB_DIR/client.log")" 'BEGIN{printf "%.2f", e-a}')
awk -v t="$CUT_IN" 'BEGIN{exit !(t < 1)}' || lab_fail "the connection ended only ${CUT_IN}s after the change"
lab_pass "established connection to b:5433 cut ${CUT_IN}s after the change ($(grep ended "$LAB_DIR/client.log" | cut -d' ' -f3))"
lab_wait_until 2 "b counts the cut flow" meshlab_status_has b "j['drops'].get('flowCut', 0) >= 1"
lab_check "a still reaches b:5432" reply a "$B" 5432
lab_info "b's path to a at the end: $(meshlab_peer_field b a "p.get('path')")"
lab_done "policy * -> tag:db:5432 in force at b ${IN_FORCE} s after set, refusal in ${REFUSED_IN}s, established 5433 cut in ${CUT_IN}s"
