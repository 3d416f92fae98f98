#!/usr/bin/env bash
# Relay regions with latency: two standalone relays (`meshcoord relay`), "near" 5 ms away each
# way (about 10 ms round trip) and "far" 30 ms each way (about 60 ms), named by the lab's DNS;
# the coordinator (and its own relay, always listed first) 50 ms each way. Both nodes sit
# behind endpoint-dependent NATs, so they are relayed.
#   A. both nodes make near their home;
#   B. b's way to near gets 80 ms slower each way: b re-homes to far, a stays on near, and
#      the two reach each other across regions (each sends to the other's home);
#   C. near goes dark (a blackhole: no FIN, no RST): a moves to far and relayed traffic
#      comes back within 5 s;
#   D. the admin removes b: far cuts b off within 5 s.
# Delays come from delaylink.py (lab_delay.sh): this kernel has no sch_netem.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/lab_delay.sh"; source "$HERE/meshlab.sh"

NEAR_IP=203.0.113.110 NEAR_NAME=relay.near.lab.test
FAR_IP=203.0.113.111 FAR_NAME=relay.far.lab.test
MESHLAB_DNS_EXTRA="$NEAR_NAME=$NEAR_IP $FAR_NAME=$FAR_IP"

lab_mesh_bin
for r in near far; do
    mkdir -p "$LAB_DIR/$r"
    key=$("$MESH_BIN/meshcoord" relay --print-key --state-dir "$LAB_DIR/$r") || lab_fail "meshcoord relay --print-key failed"
    [[ ${#key} == 44 ]] || lab_fail "meshcoord relay --print-key printed '$key', not a base64 key"
    declare "KEY_$r=$key"
done
cat > "$LAB_DIR/coord.toml" <<TOML
[[relay]]
id = "near"
name = "Near"
url = "http://$NEAR_NAME:8080/relay"
stun_host = "$NEAR_NAME"
stun_ports = [3478, 3479]
key = "$KEY_near"

[[relay]]
id = "far"
name = "Far"
url = "http://$FAR_NAME:8080/relay"
stun_host = "$FAR_NAME"
stun_ports = [3478, 3479]
key = "$KEY_far"
TOML
MESHLAB_COORD_ARGS="--config $LAB_DIR/coord.toml"

meshlab_after_coord() {
    natlab_delay c 50
    local key
    key=$("$LAB_PY" -c 'import re,sys; m=re.search(r"coordinator_key=([A-Za-z0-9+/=]{44})", open(sys.argv[1]).read()); print(m.group(1) if m else "")' \
        "$(lab_logfile coord)")
    [[ -n $key ]] || lab_fail "no coordinator_key in the coordinator's log"
    local r ip ms
    for r in near far; do
        if [[ $r == near ]]; then ip=$NEAR_IP ms=5; else ip=$FAR_IP ms=30; fi
        natlab_public_host "$r" "$ip"
        natlab_delay "$r" "$ms"
        lab_dns_use "$r"
        lab_start "$r" "$r" "$MESH_BIN/meshcoord" relay --state-dir "$LAB_DIR/$r" --listen "$ip:8080" \
            --stun-ports 3478,3479 --coordinator "$(meshlab_coord_url)" --coordinator-key "$key" $(meshlab_node_tls_args)
        lab_wait_until 20 "relay $r listening" lab_listening "$r" tcp 8080
    done
    lab_info "round trips from the internet side: near $(lab_rtt_ms inet "$NEAR_IP") ms, far $(lab_rtt_ms inet "$FAR_IP") ms, coordinator $(lab_rtt_ms inet "$NATLAB_C_IP") ms"
}

meshlab_up edm edm

relay() { # NAME RELAY EXPR: EXPR with r = NAME's status entry for RELAY
    lab_meshd_status "$1" || return 1
    lab_json "$LAB_DIR/$1.status.json" "next((($3) for r in j.get('relays') or [] if r['id'] == '$2'), None)"
}
home_of() { meshlab_field "$1" "next((r['id'] for r in j.get('relays') or [] if r['home']), None)"; }
home_is() { [[ $(home_of "$1") == "$2" ]]; }
latencies() { meshlab_field "$1" "' '.join(f\"{r['id']}={r.get('latencyMs')}ms\" for r in j.get('relays') or [])"; }
all_measured() { meshlab_status_has "$1" "len([r for r in j.get('relays') or [] if r.get('latencyMs') is not None]) == 3"; }

# A. Both measure all three regions and make near their home.
for n in a b; do
    lab_wait_until 30 "$n has a STUN latency for every relay" all_measured "$n"
    lab_wait_until 10 "$n's home is near" home_is "$n" near
    lab_info "$n: home $(home_of "$n"), latencies $(latencies "$n")"
done
A_NEAR=$(relay a near "r['latencyMs']") A_FAR=$(relay a far "r['latencyMs']") A_DEF=$(relay a default "r['latencyMs']")
[[ $A_NEAR -lt $A_FAR && $A_NEAR -lt $A_DEF ]] || lab_fail "a measured near ${A_NEAR} ms, far ${A_FAR} ms, default ${A_DEF} ms: near should be the fastest"
lab_pass "both nodes chose near (a measured near ${A_NEAR} ms, far ${A_FAR} ms, coordinator ${A_DEF} ms)"
lab_wait_until 20 "first ping a -> b (relayed)" lab_in a ping -n -c 1 -W 1 "$MESHLAB_B4"
meshlab_wait_path a b relay 5
lab_check "5/5 pings a -> b through near" lab_ping_ok a "$MESHLAB_B4" 5

# B. b's way to near gets slow: b re-homes to far (next STUN round, 33 % hysteresis).
natlab_delay_set near "{\"delay_ms\": 5, \"extra_ms\": {\"$NATLAB_B_WAN\": 80}}"
T_B=$EPOCHREALTIME
lab_wait_until 60 "b re-homes to far" home_is b far
B_MOVED=$(meshlab_since "$T_B")
lab_info "b re-homed to far ${B_MOVED}s after its way to near slowed down: $(latencies b)"
lab_check "a stays home on near" home_is a near
lab_wait_until 10 "a learns b's new home" meshlab_status_has a "next((p.get('homeRelay') for p in j['peers'] if p.get('name') == 'b'), None) == 'far'"
A_FAR0=$(relay a far "r['packetsSent']") B_NEAR0=$(relay b near "r['packetsSent']")
lab_check "5/5 pings a -> b (a on near, b on far)" lab_ping_ok a "$MESHLAB_B4" 5
lab_check "5/5 pings b -> a (a on near, b on far)" lab_ping_ok b "$MESHLAB_A4" 5
A_FAR1=$(relay a far "r['packetsSent']") B_NEAR1=$(relay b near "r['packetsSent']")
[[ $A_FAR1 -gt $A_FAR0 ]] || lab_fail "a sent nothing through far, b's home ($A_FAR0 -> $A_FAR1)"
[[ $B_NEAR1 -gt $B_NEAR0 ]] || lab_fail "b sent nothing through near, a's home ($B_NEAR0 -> $B_NEAR1)"
lab_pass "across regions: a sent $((A_FAR1 - A_FAR0)) packets through far, b $((B_NEAR1 - B_NEAR0)) through near"

# C. near goes dark without closing anything: both move to far, traffic resumes within 5 s.
meshlab_pinger pinger a "$MESHLAB_B4"
lab_wait_until 5 "background ping answered" grep -q "bytes from" "$(lab_logfile pinger)"
natlab_delay_set near '{"delay_ms": 5, "drop_all": true}'
T_C=$EPOCHREALTIME
lab_wait_until 10 "a leaves the dead near" home_is a far
A_MOVED=$(meshlab_since "$T_C")
replied_after() { # SECONDS: the pinger has a reply later than T_C + SECONDS
    "$LAB_PY" - "$(lab_logfile pinger)" "$T_C" "$1" <<'EOF'
import re, sys
t = float(sys.argv[2]) + float(sys.argv[3])
sys.exit(0 if any(float(m) > t for m in re.findall(r"^\[(\d+\.\d+)\] \d+ bytes from", open(sys.argv[1]).read(), re.M)) else 1)
EOF
}
lab_wait_until 15 "replies flow again 8 s after the blackhole" replied_after 8
GAP=$(meshlab_max_gap pinger "$T_C")
lab_stop pinger
lab_info "near dark: a re-homed to far after ${A_MOVED}s; longest gap between replies ${GAP}s"
awk -v g="$GAP" 'BEGIN{exit !(g <= 5.0)}' || lab_fail "relayed traffic stalled ${GAP}s when near went dark (limit 5 s)"
lab_pass "relayed traffic back within ${GAP}s of near going dark (limit 5 s)"
lab_check "5/5 pings b -> a on far" lab_ping_ok b "$MESHLAB_A4" 5

# D. The admin removes b: far (a standalone relay) cuts it off within 5 s.
B_ID=$("$MESH_BIN/meshcoord" node list --json --state-dir "$LAB_DIR/coord" | "$LAB_PY" -c 'import json,sys; print([n["id"] for n in json.load(sys.stdin) if n["name"] == "b"][0])')
lab_check "b is connected to far" [ "$(relay b far "r['connected']")" == True ]
T_D=$EPOCHREALTIME
lab_q "$MESH_BIN/meshcoord" node remove --state-dir "$LAB_DIR/coord" "$B_ID" || lab_fail "meshcoord node remove $B_ID"
lab_wait_until 5 "far revokes b" grep -q "1 revoked" "$(lab_logfile far)"
CUT=$(meshlab_since "$T_D")
lab_wait_until 5 "b is no longer connected to far" [ "$(relay b far "r['connected']")" != True ]
lab_check "a stops reaching b" bash -c "! ip netns exec $LAB_ID-a ping -n -c 2 -W 1 $MESHLAB_B4"
lab_info "b removed: far cut it off after ${CUT}s"
awk -v t="$CUT" 'BEGIN{exit !(t <= 5.0)}' || lab_fail "far cut b off only after ${CUT}s (limit 5 s)"
lab_done "near chosen (near ${A_NEAR} ms, far ${A_FAR} ms, coordinator ${A_DEF} ms); b re-homed to far in ${B_MOVED}s and the regions reached each other; near dark: a re-homed in ${A_MOVED}s, longest gap ${GAP}s; removed b cut off at far in ${CUT}s"
