#!/usr/bin/env bash
# mesh_adversarial.sh - the attacks of the hardening issue, replayed against the real binaries
# (adversary.py speaks the wire formats independently), asserting that the service keeps
# serving. Topology: natlab none/none (both nodes routed, so any host on the simulated
# internet can send to their UDP port), meshcoord on c under `nofile` 1024 as a distribution's
# default limit would start it. Attacks, in order:
#   argv          no join secret in /proc/PID/cmdline with --join-file, nor with --join (wiped)
#   crash         sealed requests stamped Int64.min / Int64.max from an unknown key
#   cloned disco  registering a node with a's disco key is refused; a keeps its direct path
#   replay        a /v1/endpoints captured before a coordinator restart is refused after it
#   disco flood   10,000/s of "MESHDS" + 116 random bytes from a non-peer for 5 s at a:
#                 tunnel ping b -> a <= 1 % loss and <= 2 ms average, a's CPU < 0.3 core
#   CallMeMaybe   20 CallMeMaybes of 64 invented endpoints from a registered node: a pings at
#                 most 16 of them
#   fd flood      1,100 idle TCP connections from one host: a registration and a map poll from
#                 another host are each answered within 2 s
#   removed node  after `meshcoord node remove`, b stops connecting to the coordinator/relay
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/meshlab.sh"

ADV=("$LAB_PY" "$HERE/adversary.py")
URL=http://$MESHLAB_COORD:8080
HZ=$(getconf CLK_TCK)
adv() { local ns=$1; shift; lab_in "$ns" "${ADV[@]}" "$@"; }
jfield() { "$LAB_PY" -c "import json,sys; j=json.loads(sys.argv[1]); print($2)" "$1"; }
coord_nodes() { "$MESH_BIN/meshcoord" node list --json --state-dir "$LAB_DIR/coord"; }

MESHLAB_COORD_WRAP="prlimit --nofile=1024:1024"
meshlab_up none none
lab_check "meshcoord runs with nofile 1024" grep -q "^Max open files *1024 *1024" "/proc/$(lab_pid coord)/limits"
meshlab_direct b a "$MESHLAB_A4"
SECRET=${MESHLAB_TOKEN#mesh1_}

# ---- argv: the join secret never shows in ps
no_secret_in_cmdline() { ! tr '\0' ' ' < "/proc/$1/cmdline" | grep -qF "${SECRET:10:40}"; }
for n in a b; do lab_check "$n (--join-file): no join secret in its command line" no_secret_in_cmdline "$(lab_pid "$n")"; done
lab_start x c "$MESH_BIN/meshd" up --join "$MESHLAB_TOKEN" --hostname x --state-dir "$LAB_DIR/x-state" \
    --socket "$LAB_DIR/x.sock" --port 41642 --interface meshx $(meshlab_node_tls_args)
lab_wait_until 20 "meshd x (--join on the command line) up" meshlab_status_has x "j.get('control') == 'connected'"
lab_check "x (--join): the secret was wiped from its command line" no_secret_in_cmdline "$(lab_pid x)"
ps -eo pid,args > "$LAB_DIR/ps.txt"
printf '%s\n' "${SECRET:10:40}" > "$LAB_DIR/secret-fragment"
lab_check "ps shows no join secret anywhere" bash -c "! grep -qF -f '$LAB_DIR/secret-fragment' '$LAB_DIR/ps.txt'"
lab_stop x

# ---- crash request: no credentials, extreme timestamps
out=$(adv b crash "$URL" "$MESHLAB_TOKEN")
lab_info "crash requests answered: $out"
lab_check "each extreme-timestamp request is refused with 401 stale_request" \
    test "$(jfield "$out" "[(r['status'], r.get('code')) for r in j['results']]")" == "[(401, 'stale_request'), (401, 'stale_request'), (401, 'stale_request')]"
lab_check "meshcoord survived" lab_alive coord
out=$(adv b register "$URL" "$MESHLAB_TOKEN" "$LAB_DIR/adv.json" adv)
lab_check "the next request (a registration) is answered: $out" test "$(jfield "$out" "j['status']")" == 200

# ---- cloned disco key
A_DISCO=$(coord_nodes | "$LAB_PY" -c "import json,sys; print([n['discoKey'] for n in json.load(sys.stdin) if n['name'] == 'a'][0])")
out=$(adv b register "$URL" "$MESHLAB_TOKEN" "$LAB_DIR/clone.json" clone --disco-key "$A_DISCO")
lab_info "registration with a's disco key: $out"
lab_check "a node with another node's disco key is refused" test "$(jfield "$out" "j['status']")" == 409
lab_check "a keeps its direct path to b" meshlab_path_is a b direct
lab_check "b keeps its direct path to a" meshlab_path_is b a direct

# ---- replay after a restart
out=$(adv b endpoints "$URL" "$MESHLAB_TOKEN" "$LAB_DIR/adv.json" "$LAB_DIR/captured")
lab_check "a fresh /v1/endpoints is accepted: $out" test "$(jfield "$out" "j['status']")" == 200
out=$(adv b resend "$URL" /v1/endpoints "$LAB_DIR/captured")
lab_check "its replay is refused while running: $out" test "$(jfield "$out" "j['status']")" != 200
lab_stop coord
meshlab_coord_start coord2
out=$(adv b resend "$URL" /v1/endpoints "$LAB_DIR/captured")
lab_info "replay after the restart: $out"
lab_check "its replay is refused after a coordinator restart" test "$(jfield "$out" "j['status']")" != 200
lab_wait_until 15 "a is connected to the restarted coordinator" meshlab_status_has a "j.get('control') == 'connected'"
lab_wait_until 15 "b is connected to the restarted coordinator" meshlab_status_has b "j.get('control') == 'connected'"

# ---- disco flood from a non-peer
A_PID=$(lab_pid a)
lab_in a ping -n -c 20 -i 0.05 -W 1 -q "$MESHLAB_B4" >/dev/null  # warm: sessions both ways
cpu0=$(lab_cpu_ticks "$A_PID")
lab_start flood c "${ADV[@]}" disco-flood "$NATLAB_A_IP" "$MESHLAB_PORT" 10000 5
lab_run --out "$LAB_DIR/flood-ping" ip netns exec "$LAB_ID-b" ping -n -c 100 -i 0.05 -W 1 -q "$MESHLAB_A4" || true
lab_wait_until 10 "the flood finished" bash -c "! kill -0 $(lab_pid flood) 2>/dev/null"
cpu1=$(lab_cpu_ticks "$A_PID")
lab_info "flood sender: $(cat "$(lab_logfile flood)")"
ping_summary=$(tail -n 2 "$LAB_DIR/flood-ping")
lab_info "tunnel ping b -> a during the flood: $(echo "$ping_summary" | tr '\n' ' ')"
loss=$(echo "$ping_summary" | sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p')
avg=$(echo "$ping_summary" | sed -n 's|.*= [0-9.]*/\([0-9.]*\)/.*|\1|p')
cores=$(awk -v t=$((cpu1 - cpu0)) -v hz="$HZ" 'BEGIN{printf "%.3f", t / hz / 5}')
drops=$(meshlab_field a "j.get('discoDrops')")
lab_info "meshd a during the 5 s flood: $((cpu1 - cpu0)) ticks = $cores core; disco drops: $drops"
lab_check "tunnel ping loss during the flood ${loss}% <= 1%" awk -v l="$loss" 'BEGIN{exit !(l != "" && l <= 1)}'
lab_check "tunnel ping average during the flood ${avg} ms <= 2 ms" awk -v a="$avg" 'BEGIN{exit !(a != "" && a <= 2)}'
lab_check "meshd a CPU for the flood $cores core < 0.3" awk -v c="$cores" 'BEGIN{exit !(c < 0.3)}'
lab_check "the flood shows in a's disco drop counters" meshlab_status_has a "sum((j.get('discoDrops') or {}).values()) >= 40000"

# ---- CallMeMaybe flood from a registered node (adv, registered above, is a's peer)
lab_wait_until 10 "a knows adv as a peer" meshlab_status_has a "[p for p in j['peers'] if p.get('name') == 'adv']"
lab_in a nft -f - <<'NFT' || lab_fail "nft counting set on a"
table ip adversarial {
    set pinged { type ipv4_addr . inet_service; flags dynamic; size 65536; }
    chain out {
        type filter hook output priority 0; policy accept;
        ip daddr 198.51.100.0/24 udp sport 41641 add @pinged { ip daddr . udp dport } counter
    }
}
NFT
out=$(adv c callmemaybe "$NATLAB_A_IP" "$MESHLAB_PORT" "$LAB_DIR/adv.json" "$A_DISCO" 20 64 198.51.100)
lab_info "CallMeMaybe flood sent: $out"
pinged() { lab_in a nft -j list set ip adversarial pinged | "$LAB_PY" -c "import json,sys; s=[x['set'] for x in json.load(sys.stdin)['nftables'] if 'set' in x][0]; print(len(s.get('elem', [])))"; }
more_than_16() { [[ $(pinged) -gt 16 ]]; }
some_pinged() { [[ $(pinged) -gt 0 ]]; }
if lab_poll 5 some_pinged; then lab_info "a started pinging invented candidates: $(pinged)"; else lab_info "a pinged no invented candidate within 5 s"; fi
lab_poll 10 more_than_16 && lab_fail "a pinged $(pinged) invented candidates of adv (more than 16)"
counter=$(lab_in a nft list chain ip adversarial out | grep -o 'packets [0-9]* bytes [0-9]*' || true)
lab_pass "after 20 CallMeMaybe floods a pinged $(pinged) distinct invented candidates ($counter; the attacker sent $(jfield "$out" "j['bytes']") bytes)"

# ---- fd flood: 1,100 idle connections from one host
lab_start fdflood inet "${ADV[@]}" fd-flood "$MESHLAB_COORD" 8080 1100 "$LAB_DIR/fdflood.ready"
lab_wait_until 60 "1,100 connection attempts made" test -f "$LAB_DIR/fdflood.ready"
lab_info "flood: $(cat "$LAB_DIR/fdflood.ready"), meshcoord holds $(ls "/proc/$(lab_pid coord2)/fd" | wc -l) descriptors"
out=$(adv b register "$URL" "$MESHLAB_TOKEN" "$LAB_DIR/late.json" late)
lab_info "registration during the flood: $out"
lab_check "a registration is answered within 2 s during the flood" \
    jfield "$out" "'ok' if j['status'] == 200 and j['seconds'] <= 2 else sys.exit(1)"
out=$(adv b map "$URL" "$MESHLAB_TOKEN" "$LAB_DIR/late.json")
lab_info "map poll during the flood: $out"
lab_check "a map poll is answered within 2 s during the flood" \
    jfield "$out" "'ok' if j['status'] == 200 and j['seconds'] <= 2 else sys.exit(1)"
lab_check "meshcoord logs that a connection cap bit" grep -qi "cap" "$(lab_logfile coord2)"
lab_stop fdflood

# ---- a removed node stops knocking
lab_in b nft -f - <<'NFT' || lab_fail "nft SYN counter on b"
table ip knock {
    chain out {
        type filter hook output priority 0; policy accept;
        tcp dport 8080 tcp flags syn counter
    }
}
NFT
B_ID=$(coord_nodes | "$LAB_PY" -c "import json,sys; print([n['id'] for n in json.load(sys.stdin) if n['name'] == 'b'][0])")
lab_q "$MESH_BIN/meshcoord" node remove --state-dir "$LAB_DIR/coord" "$B_ID" || lab_fail "meshcoord node remove"
lab_wait_until 10 "b knows it was removed" bash -c "grep -q 'relay and path discovery stopped' '$(lab_logfile b)'"
lab_in b nft reset counters table ip knock >/dev/null
syns() { lab_in b nft list chain ip knock out | grep -o 'packets [0-9]*' | awk '{print $2}'; }
knocked() { [[ $(syns) -gt 0 ]]; }
lab_poll 8 knocked && lab_fail "removed node b still opens connections to the coordinator ($(syns) SYNs)"
lab_pass "removed node b opened no connection to the coordinator or relay in 8 s"
lab_check "meshcoord is still running" lab_alive coord2
lab_done "crash request, cloned disco key, replay across a restart, disco and CallMeMaybe floods, fd flood, argv: all held"
