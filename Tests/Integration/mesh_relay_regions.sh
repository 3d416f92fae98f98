#!/usr/bin/env bash
# Relay regions: the coordinator lists an extra relay, run by `meshcoord relay` on another public
# host (fra, 203.0.113.110, 20 ms away each way through delaylink.py, named
# relay.fra.lab.test by the lab's DNS).
# Both nodes sit behind firewalls that drop UDP, so they can only be relayed. Both must hold a
# connection to both relays; then the coordinator (and with it its own relay) is stopped, and
# the two nodes must go on reaching each other through fra, with the longest gap between ping
# replies bounded.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/lab_delay.sh"; source "$HERE/meshlab.sh"

FRA_IP=203.0.113.110
FRA_NAME=relay.fra.lab.test
MESHLAB_DNS_EXTRA="$FRA_NAME=$FRA_IP"

lab_mesh_bin
mkdir -p "$LAB_DIR/fra"
FRA_KEY=$("$MESH_BIN/meshcoord" relay --print-key --state-dir "$LAB_DIR/fra") || lab_fail "meshcoord relay --print-key failed"
[[ ${#FRA_KEY} == 44 ]] || lab_fail "meshcoord relay --print-key printed '$FRA_KEY', not a base64 key"
cat > "$LAB_DIR/coord.toml" <<TOML
[[relay]]
id = "fra"
name = "Frankfurt"
url = "http://$FRA_NAME:8080/relay"
stun_ports = [3478, 3479]
key = "$FRA_KEY"
TOML
MESHLAB_COORD_ARGS="--config $LAB_DIR/coord.toml"

meshlab_after_coord() {
    natlab_public_host fra "$FRA_IP"
    natlab_delay fra 20
    lab_dns_use fra
    local key
    key=$("$LAB_PY" -c 'import re,sys; m=re.search(r"coordinator_key=([A-Za-z0-9+/=]{44})", open(sys.argv[1]).read()); print(m.group(1) if m else "")' \
        "$(lab_logfile coord)")
    [[ -n $key ]] || lab_fail "no coordinator_key in the coordinator's log"
    lab_start fra fra "$MESH_BIN/meshcoord" relay --state-dir "$LAB_DIR/fra" --listen "$FRA_IP:8080" \
        --stun-ports 3478,3479 --coordinator "$(meshlab_coord_url)" --coordinator-key "$key" $(meshlab_node_tls_args)
    lab_wait_until 20 "relay fra listening" lab_listening fra tcp 8080
}

meshlab_up block-udp block-udp
relays_connected() { # NAME: both relays connected
    meshlab_status_has "$1" "sorted(r['id'] for r in j.get('relays') or [] if r['connected']) == ['default', 'fra']"
}
lab_wait_until 20 "a holds connections to both relays" relays_connected a
lab_wait_until 20 "b holds connections to both relays" relays_connected b
lab_info "a's relays: $(meshlab_field a "[(r['id'], r['url'], r['home']) for r in j['relays']]")"
lab_wait_until 15 "first ping a -> b (relayed)" lab_in a ping -n -c 1 -W 1 "$MESHLAB_B4"
meshlab_wait_path a b relay 5
lab_check "5/5 pings a -> b through the relays" lab_ping_ok a "$MESHLAB_B4" 5

meshlab_pinger pinger a "$MESHLAB_B4"
lab_wait_until 5 "background ping answered" grep -q "bytes from" "$(lab_logfile pinger)"
STOP=$EPOCHREALTIME
lab_stop coord
lab_info "coordinator stopped (its relay and STUN with it)"
home_is_fra() { meshlab_status_has "$1" "[r for r in j['relays'] if r['home'] and r['id'] == 'fra' and r['connected']]"; }
lab_wait_until 10 "a's home relay is fra" home_is_fra a
lab_wait_until 10 "b's home relay is fra" home_is_fra b
SENT0=$(meshlab_field a "[r for r in j['relays'] if r['id'] == 'fra'][0]['packetsSent']")
lab_check "5/5 pings a -> b with the coordinator down" lab_ping_ok a "$MESHLAB_B4" 5
lab_check "5/5 pings b -> a with the coordinator down" lab_ping_ok b "$MESHLAB_A4" 5
SENT1=$(meshlab_field a "[r for r in j['relays'] if r['id'] == 'fra'][0]['packetsSent']")
[[ $SENT1 -gt $SENT0 ]] || lab_fail "a sent nothing through fra ($SENT0 -> $SENT1 packets)"
lab_pass "a's packets went through fra ($SENT0 -> $SENT1 packets sent there)"
GAP=$(meshlab_max_gap pinger "$STOP")
lab_info "longest gap between ping replies after the coordinator stopped: ${GAP}s"
awk -v g="$GAP" 'BEGIN{exit !(g <= 5.0)}' || lab_fail "relayed traffic stalled ${GAP}s when the coordinator's relay went away (limit 5 s)"

# A meshd restarted while the coordinator is still down has only its saved netmap: its peers
# must come back through fra.
meshlab_node_restart a a
meshlab_back_within a "$MESHLAB_B4" 3 10
lab_check "5/5 pings a -> b after the restart" lab_ping_ok a "$MESHLAB_B4" 5
lab_check "5/5 pings b -> a after the restart" lab_ping_ok b "$MESHLAB_A4" 5
lab_check "restarted a says the coordinator is unreachable" meshlab_status_has a "j['control'] != 'connected'"
lab_check "restarted a restored b from its saved netmap" grep -q "restored 1 peers from the saved netmap" "$(lab_logfile a)"
lab_done "both nodes on both relays; coordinator stopped: relayed via fra, longest gap ${GAP}s; a restarted during the outage reached b after ${MESHLAB_BACK_AFTER}s"
