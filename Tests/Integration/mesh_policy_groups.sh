#!/usr/bin/env bash
# Issue 11's policy Done-means in the lab. Four nodes, each joined with its own auth key:
#   a    alice's laptop (user alice, in group:dev), behind an eim NAT
#   b    bob's laptop (user bob: a member, not in group:dev), behind a NAT that drops all UDP,
#        so everything it sends and receives goes through the relay
#   db   a database server (tag:db) on a public host, 203.0.113.20 / 2001:db8::20
#   web  a web server (tag:web) on a public host, 203.0.113.21 / 2001:db8::21
# Policy v1: groups {"group:dev": ["alice"]}, acls group:dev -> tag:db:5432 and
# autogroup:member -> tag:web:80,443, tagOwners, and a tests block. Checked:
#   - policy v1 is in force at db, web and alice within 1 s of `policy set` (a refusal polled
#     every 20 ms at each, from before the set);
#   - allowed flows work over IPv4 and IPv6 with replies: alice -> db:5432, web:80, web:443;
#     bob -> web:80, web:443 (relayed);
#   - everything else is refused at once (RST from the receiver's filter, 'Connection
#     refused' in well under 1 s) and counted as an acl drop at the receiver: alice -> db:22,
#     bob -> web:22 (from the relayed node), db -> alice:5432 (the database host cannot open
#     connections back), web -> alice:5432, web -> bob:22 (at the relayed node);
#   - peers not allowed in either direction are absent from each other's netmap (meshctl
#     status --json peers): alice/bob, bob/db, db/web; a packet to such a peer does not leave
#     the sender (noRoute there, nothing counted at the other side), and the sender's meshd
#     answers the connect at once with ICMP administratively prohibited, the peer being one
#     the policy hides ('No route to host' over IPv4, 'Permission denied' over IPv6, within 1 s);
#     where meshctl status has absentPeers, the hidden ones are listed there;
#   - a policy whose tests contradict its rules is refused with FILE:line:column (the line of
#     the failing test) and the running one stays (policy get, history, flows as before);
#   - policy v2 (443 dropped, group:dev -> tag:db:22 added, alice -> bob:22 added) is in force
#     at the nodes within 1 s of `policy set` (a new refusal and a new acceptance measured),
#     alice's established connection to web:443 stops within 1 s, and alice and bob are in
#     each other's netmap again (alice reaches bob:22 through the relay).
#   - an allowed connection alice opened before the first policy (alice -> web:80) still
#     carries data 2.5 s after the set (meshd records its own TCP SYNs without a policy).
# Runs with NATLAB_IPV6=dual unless told otherwise (the overlay's IPv6 needs IPv6 in the
# namespaces); NATLAB_IPV6=off skips the IPv6 checks and says so.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
NATLAB_IPV6=${NATLAB_IPV6:-dual}
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/meshlab.sh"
coord() { "$MESH_BIN/meshcoord" "$@" --state-dir "$LAB_DIR/coord"; }
# within SECONDS LIMIT: a measured number of seconds, at most LIMIT (the Done-means' 1 s).
within() { [[ $1 =~ ^[0-9.]+$ ]] && awk -v t="$1" -v l="$2" 'BEGIN{exit !(t <= l)}'; }

# Users and one auth key per node, before the nodes join.
meshlab_after_coord() {
    coord user create alice >/dev/null
    coord user create bob >/dev/null
    MESHLAB_TOKEN_a=$(coord authkey create --user alice 2>/dev/null)
    MESHLAB_TOKEN_b=$(coord authkey create --user bob 2>/dev/null)
    MESHLAB_TOKEN_db=$(coord authkey create --tags tag:db 2>/dev/null)
    MESHLAB_TOKEN_web=$(coord authkey create --tags tag:web 2>/dev/null)
    local t; for t in a b db web; do
        local v=MESHLAB_TOKEN_$t
        [[ ${!v} == mesh1_* ]] || lab_fail "authkey create for $t gave no token"
    done
}
meshlab_up eim block-udp
meshlab_public_node db 203.0.113.20 2001:db8::20
meshlab_public_node web 203.0.113.21 2001:db8::21
NODES=(a b db web)
declare -A V4 V6
for n in "${NODES[@]}"; do V4[$n]=$(meshlab_field "$n" "j['ipv4']"); V6[$n]=$(meshlab_field "$n" "j['ipv6']"); done
lab_info "overlay: a (alice) ${V4[a]} ${V6[a]}, b (bob) ${V4[b]} ${V6[b]}, db ${V4[db]} ${V6[db]}, web ${V4[web]} ${V6[web]}"

# peers_are NAME "P1 P2 ...": exactly these peers (by name, sorted) in NAME's status
peers_of() { meshlab_field "$1" "' '.join(sorted(p.get('name', '?') for p in j['peers']))"; }
peers_are() { [[ $(peers_of "$1") == "$2" ]]; }
lab_wait_until 10 "no policy: a sees b db web" peers_are a "b db web"
lab_wait_until 10 "no policy: b sees a db web" peers_are b "a db web"
lab_wait_until 10 "no policy: db sees a b web" peers_are db "a b web"
lab_wait_until 10 "no policy: web sees a b db" peers_are web "a b db"
coord node list --json > "$LAB_DIR/nodes.json"
lab_check "the coordinator has a as alice's, b as bob's, db tagged tag:db, web tagged tag:web" \
    test "$(lab_json "$LAB_DIR/nodes.json" "' '.join(f\"{n['name']}={n.get('user') or ','.join(n['tags'])}\" for n in sorted(j, key=lambda n: n['name']))")" \
    == "a=alice b=bob db=tag:db web=tag:web"

# Every node listens on the ports the checks use; each connection gets "hello PORT\n", then
# every line it sends is echoed for as long as it stays open.
cat > "$LAB_DIR/listen.py" <<'PY'
import socket, sys, threading
def serve(c, port):
    try:
        c.sendall(b"hello %d\n" % port)
        while True:
            d = c.recv(256)
            if not d: return
            c.sendall(d)
    except OSError:
        pass
    finally:
        c.close()
def listen(port):
    s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); s.bind(("::", port)); s.listen(64)
    while True:
        c, _ = s.accept(); threading.Thread(target=serve, args=(c, port), daemon=True).start()
for p in sys.argv[1:]: threading.Thread(target=listen, args=(int(p),), daemon=True).start()
threading.Event().wait()
PY
# probe.py MODE HOST PORT
#   reply: connect, get the greeting, send a line and get it back (replies flow both ways);
#   refused: the connect is refused (ConnectionRefusedError, i.e. a RST); prints the seconds;
#   no-route: the connect fails with EHOSTUNREACH ('No route to host': ICMP host unreachable,
#   or IPv4 administratively prohibited) or EACCES ('Permission denied': IPv6 administratively
#   prohibited), i.e. the sender's meshd answered it; prints the seconds;
#   hold: keep a connection, one echoed line every 50 ms ("echo EPOCH" every 0.25 s); print
#   "ended EPOCH ERROR" when it stops;
#   until-refused / until-reply: try every 20 ms (for up to 10 s) until a connect is refused /
#   gets its greeting and echo; print "first EPOCH" then.
cat > "$LAB_DIR/probe.py" <<'PY'
import errno, socket, sys, time
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
def reply(s):
    f = s.makefile("rb")
    if f.readline() != b"hello %d\n" % port: return False
    s.sendall(b"ping\n"); return f.readline() == b"ping\n"
if mode.startswith("until-"):
    print("polling", flush=True)
    end = time.time() + 10
    while time.time() < end:
        try:
            # A short timeout: an attempt that loses its SYN or answer is retried at once
            # instead of after TCP's 1 s.
            with socket.create_connection((host, port), timeout=0.3) as s:
                s.settimeout(1)
                if mode == "until-reply" and reply(s): break
        except ConnectionRefusedError:
            if mode == "until-refused": break
        except OSError as e:
            print("attempt failed", time.time(), type(e).__name__, flush=True)
        time.sleep(0.02)
    else:
        print("never", flush=True); sys.exit(1)
    print("first", time.time(), flush=True); sys.exit(0)
t0 = time.time()
try:
    s = socket.create_connection((host, port), timeout=2)
except ConnectionRefusedError:
    print(f"refused in {time.time() - t0:.3f}"); sys.exit(0 if mode == "refused" else 1)
except OSError as e:
    print(f"{type(e).__name__} ({e.strerror}) in {time.time() - t0:.3f}")
    sys.exit(0 if mode == "no-route" and e.errno in (errno.EHOSTUNREACH, errno.EACCES) else 1)
if mode in ("refused", "no-route"):
    print(f"connected in {time.time() - t0:.3f}"); sys.exit(1)
if mode == "reply": sys.exit(0 if reply(s) else 1)
f = s.makefile("rb")
if f.readline() != b"hello %d\n" % port: sys.exit(1)
print("connected", flush=True)
last = 0
try:
    while True:
        s.sendall(b"x\n")
        if f.readline() != b"x\n": raise EOFError("connection closed")
        if time.time() - last >= 0.25:
            last = time.time(); print("echo", last, flush=True)
        time.sleep(0.05)
except Exception as e:
    print("ended", time.time(), type(e).__name__, flush=True)
PY
probe() { lab_in "$1" "$LAB_PY" "$LAB_DIR/probe.py" "${@:2}"; }
# poll_start NAME NS MODE HOST PORT: a poller (until-refused / until-reply) in the background,
# started before a policy change so that each node's moment is measured on its own;
# poll_seconds NAME SINCE VAR: waits for its result, sets VAR to the seconds from SINCE to it.
poll_start() {
    lab_start "$1" "$2" "$LAB_PY" -u "$LAB_DIR/probe.py" "$3" "$4" "$5"
    lab_wait_until 5 "poller $1 runs" grep -q polling "$LAB_DIR/$1.log"
}
poll_seconds() { # NAME SINCE VAR
    lab_poll 12 grep -q '^first\|^never' "$LAB_DIR/$1.log" || true
    local t; t=$(awk '/^first/{print $2}' "$LAB_DIR/$1.log")
    [[ -n $t ]] || lab_fail "$1: the change was not seen within 10 s: $(cat "$LAB_DIR/$1.log")"
    printf -v "$3" '%s' "$(awk -v a="$2" -v e="$t" 'BEGIN{printf "%.2f", e-a}')"
}
for n in "${NODES[@]}"; do
    case $n in db) ports="5432 22" ;; web) ports="80 443 22" ;; *) ports="5432 22" ;; esac
    # shellcheck disable=SC2086
    lab_start "listen-$n" "$n" "$LAB_PY" "$LAB_DIR/listen.py" $ports
    for p in $ports; do lab_wait_until 5 "$n listening on $p" lab_listening "$n" tcp "$p"; done
done

# Without a policy every node reaches every port (what the policy then takes away).
lab_check "no policy: a reaches db:22" probe a reply "${V4[db]}" 22
lab_check "no policy: b reaches db:5432 (through the relay)" probe b reply "${V4[db]}" 5432
lab_check "no policy: web reaches db:5432" probe web reply "${V4[db]}" 5432
lab_check "no policy: db reaches a:5432" probe db reply "${V4[a]}" 5432
meshlab_wait_path b web relay 10
meshlab_wait_path web b relay 10
meshlab_wait_path b a relay 10

cat > "$LAB_DIR/policy.hujson" <<'P'
{
  // Issue 11's Done-means: developers reach the database, members reach the web server.
  "groups": {"group:dev": ["alice"]},
  "tagOwners": {
    "tag:db": ["group:dev"],
    "tag:web": ["group:dev"],
  },
  "acls": [
    {"action": "accept", "src": ["group:dev"], "dst": ["tag:db:5432"]},
    {"action": "accept", "src": ["autogroup:member"], "dst": ["tag:web:80,443"]},
  ],
  "tests": [
    {"src": "alice", "accept": ["tag:db:5432", "tag:web:80", "tag:web:443"], "deny": ["tag:db:22", "bob:22"]},
    {"src": "bob", "accept": ["tag:web:80", "tag:web:443"], "deny": ["tag:db:5432", "tag:web:22", "alice:22"]},
    {"src": "tag:db", "deny": ["alice:5432", "tag:web:80"]},
    {"src": "tag:web", "deny": ["tag:db:5432", "alice:5432", "bob:22"]},
  ],
}
P
# drops NAME REASON: the node's count of drops for REASON (0 when absent)
drops() { meshlab_field "$1" "j['drops'].get('$2', 0)"; }
declare -A ACL0
for n in "${NODES[@]}"; do ACL0[$n]=$(drops "$n" acl); done
# Each node's moment: alice's connect to the listening db:22 is refused (it was accepted above),
# bob's (relayed) to web:22 too, and db's to a:5432, each polled every 20 ms from before the set.
# An allowed connection opened before the first policy (alice -> web:80) must survive it: alice's
# meshd recorded its SYN without a policy, so the replies meet a known flow.
lab_start before-policy a "$LAB_PY" -u "$LAB_DIR/probe.py" hold "${V4[web]}" 80
lab_wait_until 5 "a's connection to web:80 from before the policy carries data" grep -q connected "$LAB_DIR/before-policy.log"
poll_start v1-db a until-refused "${V4[db]}" 22
poll_start v1-web b until-refused "${V4[web]}" 22
poll_start v1-a db until-refused "${V4[a]}" 5432
SET_AT=$EPOCHREALTIME
coord policy set "$LAB_DIR/policy.hujson" > "$LAB_DIR/set1.out"
SET_TOOK=$(meshlab_since "$SET_AT")
lab_pass "policy v1 set ($(cat "$LAB_DIR/set1.out"); the command took ${SET_TOOK}s)"
poll_seconds v1-db "$SET_AT" AT_DB; poll_seconds v1-web "$SET_AT" AT_WEB; poll_seconds v1-a "$SET_AT" AT_A
within "$AT_DB" 1 && within "$AT_WEB" 1 && within "$AT_A" 1 \
    || lab_fail "policy v1 in force only ${AT_DB}s (db) / ${AT_WEB}s (web) / ${AT_A}s (a) after policy set (limit 1 s)"
lab_pass "policy v1 in force at db ${AT_DB}s (a -> db:22 refused), at web ${AT_WEB}s (b -> web:22 refused), at a ${AT_A}s (db -> a:5432 refused) after policy set (limit 1 s)"

# Peers not allowed in either direction leave each other's netmap.
lab_wait_until 5 "a (alice) sees db web only: b is absent" peers_are a "db web"
lab_wait_until 5 "b (bob) sees web only: a and db are absent" peers_are b "web"
lab_wait_until 5 "db sees a only: b and web are absent" peers_are db "a"
lab_wait_until 5 "web sees a b only: db is absent" peers_are web "a b"
NETMAPS_AT=$(meshlab_since "$SET_AT")
lab_info "netmaps as the policy says ${NETMAPS_AT}s after policy set"
# Where meshctl status lists the peers the policy hides (absentPeers, issue 11 item 6), they are
# exactly the ones gone from peers.
absent_of() { meshlab_field "$1" "' '.join(sorted(p['name'] for p in j.get('absentPeers') or []))"; }
if [[ $(meshlab_field a "'absentPeers' in j") == True ]]; then
    lab_check "status lists the hidden peers as absent: a [b], b [a db], db [b web], web [db]" \
        test "$(absent_of a)/$(absent_of b)/$(absent_of db)/$(absent_of web)" == "b/a db/b web/db"
else
    lab_info "this meshctl status has no absentPeers: hidden peers are simply not listed"
fi

# Ended, or echoing still 2.5 s after the set (longer than its 2 s receive timeout).
LATER=$(awk -v a="$SET_AT" 'BEGIN{printf "%.3f", a+2.5}')
echoing_after() { awk -v t="$2" '/^echo/ && $2 > t {f=1} END{exit !f}' "$LAB_DIR/$1.log"; }
settled() { grep -q ended "$LAB_DIR/$1.log" || echoing_after "$1" "$LATER"; }
lab_poll 6 settled before-policy || true
if grep -q ended "$LAB_DIR/before-policy.log"; then
    lab_fail "a's connection to web:80 opened before the first policy (allowed by it) ended $(awk -v a="$SET_AT" '/^ended/{printf "%.2fs after policy set (%s)", $2-a, $3}' "$LAB_DIR/before-policy.log"); a's drops: $(meshlab_field a "j['drops']")"
elif echoing_after before-policy "$LATER"; then
    lab_pass "a's connection to web:80 opened before the first policy (allowed by it) still carries data 2.5 s after policy set"
else
    lab_fail "a's connection to web:80 opened before the first policy (allowed by it): neither ended nor echoing 2.5 s after policy set"
fi
lab_stop before-policy

# Allowed flows, replies included, over both families.
has_address() { lab_in "$1" ip -o -6 addr show | grep -qF "$2"; }
FAMILIES=(4)
if [[ $NATLAB_IPV6 != off ]]; then
    for n in "${NODES[@]}"; do
        lab_wait_until 5 "$n has its overlay IPv6 ${V6[$n]} on its TUN" has_address "$n" "${V6[$n]}"
    done
    FAMILIES+=(6)
else
    lab_info "NATLAB_IPV6=off: no overlay IPv6 in this lab, IPv6 checks skipped"
fi
addr() { if [[ $2 == 4 ]]; then echo "${V4[$1]}"; else echo "${V6[$1]}"; fi; }
for f in "${FAMILIES[@]}"; do
    lab_check "IPv$f: a (group:dev) reaches db:5432, replies flow" probe a reply "$(addr db "$f")" 5432
    lab_check "IPv$f: a (member) reaches web:80, replies flow" probe a reply "$(addr web "$f")" 80
    lab_check "IPv$f: a (member) reaches web:443, replies flow" probe a reply "$(addr web "$f")" 443
    lab_check "IPv$f: b (member, relayed) reaches web:80, replies flow" probe b reply "$(addr web "$f")" 80
    lab_check "IPv$f: b (member, relayed) reaches web:443, replies flow" probe b reply "$(addr web "$f")" 443
done
lab_check "web's packets from b come through the relay" meshlab_path_is web b relay

# refused_counted FROM TO PORT FAMILY WHY: FROM's connect to TO:PORT is refused within 1 s and
# TO counts one more acl drop
refused_counted() {
    local from=$1 to=$2 port=$3 fam=$4 why=$5 before out
    before=$(drops "$to" acl)
    out=$(probe "$from" refused "$(addr "$to" "$fam")" "$port") || lab_fail "IPv$fam: $from -> $to:$port ($why) was not refused: $out"
    within "${out##* }" 1 || lab_fail "IPv$fam: $from -> $to:$port refused only after ${out##* }s"
    lab_pass "IPv$fam: $from -> $to:$port ($why): connection $out s"
    lab_wait_until 3 "IPv$fam: $to counts the refused $from -> $to:$port as acl (was $before)" \
        meshlab_status_has "$to" "j['drops'].get('acl', 0) > $before"
}
for f in "${FAMILIES[@]}"; do
    refused_counted a db 22 "$f" "group:dev gets 5432 only"
    refused_counted b web 22 "$f" "members get 80 and 443 only; from the relayed node"
    refused_counted db a 5432 "$f" "the database host cannot open connections back"
    refused_counted db a 22 "$f" "the database host cannot open connections back"
    refused_counted web a 5432 "$f" "the web host cannot open connections to members"
    refused_counted web b 22 "$f" "nor to the relayed member: counted behind the relay"
done
# Packets to a peer absent from the netmap do not leave the sender: no route there, and the
# other side sees nothing; the sender's meshd answers the connect itself (ICMP administratively
# prohibited into its TUN, TO being a peer the policy hides), so it fails at once instead of
# timing out.
# unreachable_at FROM TO FAMILY: the connect fails within 1 s ('No route to host' over IPv4,
# 'Permission denied' over IPv6), FROM counts noRoute, TO nothing
unreachable_at() {
    local from=$1 to=$2 fam=$3 before_route before_acl out
    before_route=$(drops "$from" noRoute) before_acl=$(drops "$to" acl)
    out=$(probe "$from" no-route "$(addr "$to" "$fam")" 5432) || lab_fail "IPv$fam: $from -> $to:5432 was not answered by $from's meshd ($out)"
    within "${out##* }" 1 || lab_fail "IPv$fam: $from -> $to:5432 failed only after ${out##* }s ($out)"
    lab_pass "IPv$fam: $from -> $to:5432 refused by $from's meshd ($out): $to is absent from $from's netmap"
    lab_wait_until 3 "IPv$fam: $from counts noRoute for it (was $before_route)" meshlab_status_has "$from" "j['drops'].get('noRoute', 0) > $before_route"
    lab_check "IPv$fam: nothing of it reached $to (acl drops still $before_acl)" test "$(drops "$to" acl)" == "$before_acl"
}
for f in "${FAMILIES[@]}"; do
    unreachable_at b db "$f"
    unreachable_at web db "$f"
    unreachable_at db web "$f"
done
ACL_SUMMARY=""
for n in "${NODES[@]}"; do ACL_SUMMARY+=" $n $(( $(drops "$n" acl) - ACL0[$n] ))"; done
lab_info "acl drops since policy v1:$ACL_SUMMARY; all drops: a $(meshlab_field a "j['drops']"); b $(meshlab_field b "j['drops']")"

# A policy whose tests contradict its rules (bob is no developer) is refused with the line and
# column of the failing test; the running policy stays.
sed 's|{"src": "bob", "accept": \["tag:web:80", "tag:web:443"\]|{"src": "bob", "accept": ["tag:web:80", "tag:db:5432"]|' \
    "$LAB_DIR/policy.hujson" > "$LAB_DIR/contradicting.hujson"
BAD_LINE=$(grep -n '"src": "bob", "accept": \["tag:web:80", "tag:db:5432"\]' "$LAB_DIR/contradicting.hujson" | cut -d: -f1)
[[ -n $BAD_LINE ]] || lab_fail "the contradicting policy was not made"
coord policy history > "$LAB_DIR/history1.out"
if coord policy set "$LAB_DIR/contradicting.hujson" > "$LAB_DIR/bad.out" 2>&1; then lab_fail "a policy contradicting its tests was accepted"; fi
lab_check "policy set names FILE:$BAD_LINE:column of the failing test: $(head -c 300 "$LAB_DIR/bad.out")" \
    grep -qE "contradicting\.hujson:$BAD_LINE:[0-9]+: .*fails" "$LAB_DIR/bad.out"
coord policy get > "$LAB_DIR/running.hujson"
lab_check "policy get still prints policy v1" cmp -s "$LAB_DIR/policy.hujson" "$LAB_DIR/running.hujson"
coord policy history > "$LAB_DIR/history2.out"
lab_check "policy history has no new version" cmp -s "$LAB_DIR/history1.out" "$LAB_DIR/history2.out"
lab_check "the old policy stays: b -> db:5432 still has no route" probe b no-route "${V4[db]}" 5432
lab_check "the old policy stays: a -> db:22 still refused" probe a refused "${V4[db]}" 22
lab_check "the old policy stays: a -> db:5432 still works" probe a reply "${V4[db]}" 5432
lab_check "the old policy stays: b -> web:80 still works" probe b reply "${V4[web]}" 80

# Policy v2: 443 is no longer allowed, developers get db:22 too, alice may reach bob's 22.
# alice's connection to web:443, open and echoing, must stop within 1 s of the change.
lab_start hold a "$LAB_PY" -u "$LAB_DIR/probe.py" hold "${V4[web]}" 443
lab_wait_until 5 "a's connection to web:443 carries data" grep -q connected "$LAB_DIR/hold.log"
sed -e 's|"dst": \["tag:db:5432"\]},|"dst": ["tag:db:5432,22"]},\n    {"action": "accept", "src": ["alice"], "dst": ["bob:22"]},|' \
    -e 's|"dst": \["tag:web:80,443"\]|"dst": ["tag:web:80"]|' \
    -e 's|"accept": \["tag:db:5432", "tag:web:80", "tag:web:443"\], "deny": \["tag:db:22", "bob:22"\]|"accept": ["tag:db:5432", "tag:db:22", "tag:web:80", "bob:22"], "deny": ["tag:web:443"]|' \
    -e 's|{"src": "bob", "accept": \["tag:web:80", "tag:web:443"\]|{"src": "bob", "accept": ["tag:web:80"], "deny": ["tag:web:443"]},\n    {"src": "bob"|' \
    "$LAB_DIR/policy.hujson" > "$LAB_DIR/policy2.hujson"
grep -q '"alice"], "dst": \["bob:22"\]' "$LAB_DIR/policy2.hujson" || lab_fail "policy v2 was not made"
FLOWCUT0=$(drops web flowCut)
poll_start v2-web a until-refused "${V4[web]}" 443
poll_start v2-db a until-reply "${V4[db]}" 22
CHANGED_AT=$EPOCHREALTIME
coord policy set "$LAB_DIR/policy2.hujson" > "$LAB_DIR/set2.out"
lab_pass "policy v2 set ($(cat "$LAB_DIR/set2.out"); the command took $(meshlab_since "$CHANGED_AT")s)"
lab_wait_until 3 "a's connection to web:443 ends" grep -q ended "$LAB_DIR/hold.log"
CUT_IN=$(awk -v a="$CHANGED_AT" -v e="$(awk '/^ended/{print $2}' "$LAB_DIR/hold.log")" 'BEGIN{printf "%.2f", e-a}')
within "$CUT_IN" 1 || lab_fail "a's established connection to web:443 ended only ${CUT_IN}s after policy set (limit 1 s)"
lab_pass "a's established connection to web:443 stopped ${CUT_IN}s after policy set ($(awk '/^ended/{print $3}' "$LAB_DIR/hold.log")) (limit 1 s)"
poll_seconds v2-web "$CHANGED_AT" REFUSED_AT; poll_seconds v2-db "$CHANGED_AT" ACCEPTED_AT
within "$REFUSED_AT" 1 && within "$ACCEPTED_AT" 1 || lab_fail "policy v2 in force only ${REFUSED_AT}s (refusal at web) / ${ACCEPTED_AT}s (acceptance at db) after policy set (limit 1 s)"
lab_pass "policy v2 in force: a -> web:443 refused at web ${REFUSED_AT}s, a -> db:22 accepted at db ${ACCEPTED_AT}s after policy set (limit 1 s)"
lab_check "a -> web:443 refused now" probe a refused "${V4[web]}" 443
lab_check "a -> db:22 answers now" probe a reply "${V4[db]}" 22
lab_wait_until 3 "web counts the cut flow (flowCut was $FLOWCUT0)" meshlab_status_has web "j['drops'].get('flowCut', 0) > $FLOWCUT0"
lab_wait_until 5 "a (alice) sees b again" peers_are a "b db web"
lab_wait_until 5 "b (bob) sees a again" peers_are b "a web"
VISIBLE_AT=$(meshlab_since "$CHANGED_AT")
lab_wait_until 10 "a reaches b:22 through the relay, replies flow" probe a reply "${V4[b]}" 22
BOB_AT=$(meshlab_since "$CHANGED_AT")
lab_check "a's path to b is the relay" meshlab_path_is a b relay
lab_check "b still cannot open a:22 (the rule is one way)" probe b refused "${V4[a]}" 22
lab_check "db and web are still absent from each other's netmap" peers_are db "a"
lab_check "and web sees a b only" peers_are web "a b"
lab_check "b still reaches web:80" probe b reply "${V4[web]}" 80
lab_info "policy history: $(coord policy history | tr -s ' \n' ' ')"
lab_done "policy v1 in force at db ${AT_DB}s / web ${AT_WEB}s / a ${AT_A}s after set; v2: refusal ${REFUSED_AT}s, acceptance ${ACCEPTED_AT}s, established 443 stopped ${CUT_IN}s, alice and bob visible again ${VISIBLE_AT}s and connected ${BOB_AT}s after set; over IPv$(IFS=/; echo "${FAMILIES[*]}")"
