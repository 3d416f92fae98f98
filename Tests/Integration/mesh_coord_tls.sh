#!/usr/bin/env bash
# meshcoord terminating TLS itself, no proxy: it listens on c:443 with a certificate from the
# lab's private CA (--tls-cert/--tls-key) and the nodes join https://coord.lab.test. A standalone
# relay (meshcoord relay --tls-cert/--tls-key) on its own host serves https://relay.tls.lab.test
# and both nodes hold a connection to it too. Then the certificate is renewed in place and
# meshcoord gets SIGHUP, as from certbot's deploy hook: new connections see the new serial, the
# nodes' relay connections opened before stay the same TCP connections, netmap changes still
# reach them, pings go on. A reload with a garbage key keeps the new certificate in service and
# meshcoord running.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/meshlab.sh"
MESHLAB_NAMING=https MESHLAB_PROXY=none

RLY_IP=203.0.113.111
RLY_NAME=relay.tls.lab.test
MESHLAB_DNS_EXTRA="$RLY_NAME=$RLY_IP"
TLS=$LAB_DIR/tls
COORD_CERT=$TLS/$MESHLAB_COORD_NAME.pem COORD_KEY=$TLS/$MESHLAB_COORD_NAME.key

lab_mesh_bin
lab_tls_ca
lab_tls_cert "$RLY_NAME" "DNS:$RLY_NAME"
mkdir -p "$LAB_DIR/rly"
RLY_KEY=$("$MESH_BIN/meshcoord" relay --print-key --state-dir "$LAB_DIR/rly") || lab_fail "meshcoord relay --print-key failed"
cat > "$LAB_DIR/coord.toml" <<TOML
[[relay]]
id = "tls"
url = "https://$RLY_NAME/relay"
stun_ports = [3478, 3479]
key = "$RLY_KEY"
TOML
MESHLAB_COORD_ARGS="--config $LAB_DIR/coord.toml"

meshlab_after_coord() {
    natlab_public_host rly "$RLY_IP"
    lab_dns_use rly
    local key
    key=$("$LAB_PY" -c 'import re,sys; m=re.search(r"coordinator_key=([A-Za-z0-9+/=]{44})", open(sys.argv[1]).read()); print(m.group(1) if m else "")' \
        "$(lab_logfile coord)")
    [[ -n $key ]] || lab_fail "no coordinator_key in the coordinator's log"
    lab_start rly rly "$MESH_BIN/meshcoord" relay --state-dir "$LAB_DIR/rly" --listen "$RLY_IP:443" --stun-ports 3478,3479 \
        --coordinator "$(meshlab_coord_url)" --coordinator-key "$key" --ca-file "$TLS/ca.pem" \
        --tls-cert "$TLS/$RLY_NAME.pem" --tls-key "$TLS/$RLY_NAME.key"
    lab_wait_until 20 "relay listening on $RLY_IP:443" lab_listening rly tcp 443
}

# served_serial NS HOST: the serial of the certificate HOST:443 presents, as openssl's client sees
# it from namespace NS (verified against the lab CA and for the name)
served_serial() {
    lab_in "$1" timeout 5 openssl s_client -connect "$2:443" -servername "$2" -verify_hostname "$2" -CAfile "$TLS/ca.pem" \
        -verify_return_error </dev/null 2>/dev/null | openssl x509 -noout -serial | sed 's/^serial=//'
}
serves_serial() { [[ $(served_serial "$1" "$2") == "$3" ]]; }
cert_serial() { openssl x509 -noout -serial -in "$1" | sed 's/^serial=//'; }
# established_to NS PEER_IP: the local addresses of NS's established TCP connections to
# PEER_IP:443 (the relay connection stays; a long-poll's may come and go)
established_to() { lab_in "$1" ss -Htn state established "dst $2:443" | awk '{print $3}' | sort; }
relay_connected() { # NAME RELAY_ID
    meshlab_status_has "$1" "[r for r in j.get('relays') or [] if r['id'] == '$2' and r['connected']]"
}

meshlab_up eim eim
lab_listening c tcp 8080 && lab_fail "something listens on c:8080: meshcoord should be on 443 only"
lab_pass "meshcoord listens on c:443 itself, nothing on 8080"
lab_check "meshcoord says it serves TLS" grep -q "TLS on the node API port: serial" "$(lab_logfile coord)"
lab_check "the relay says it serves TLS" grep -q "TLS on the relay port: serial" "$(lab_logfile rly)"
for n in a b; do
    lab_wait_until 10 "$n's connection to the TLS relay is up" relay_connected "$n" tls
done
lab_wait_until 10 "first ping a -> b" lab_in a ping -n -c 1 -W 1 "$MESHLAB_B4"
lab_check "5/5 pings a -> b" lab_ping_ok a "$MESHLAB_B4" 5

SERIAL1=$(cert_serial "$COORD_CERT")
lab_check "a sees meshcoord's certificate (serial $SERIAL1) at https://$MESHLAB_COORD_NAME" serves_serial a "$MESHLAB_COORD_NAME" "$SERIAL1"
RLY_SERIAL=$(cert_serial "$TLS/$RLY_NAME.pem")
lab_check "a sees the relay's certificate (serial $RLY_SERIAL) at $RLY_NAME" serves_serial a "$RLY_NAME" "$RLY_SERIAL"
# Plain HTTP on the TLS port gets no HTTP answer.
plain_http_answered() { lab_in a curl -s -m 3 -o /dev/null "http://$MESHLAB_COORD_NAME:443/"; }
plain_http_answered && lab_fail "plain HTTP on meshcoord's TLS port was answered"
lab_pass "plain HTTP on meshcoord's TLS port is not answered"

# The relay connections open now must survive the reload.
CONNS_A=$(established_to a "$MESHLAB_COORD")
[[ -n $CONNS_A ]] || lab_fail "a holds no TCP connection to $MESHLAB_COORD:443"
lab_info "a's connections to meshcoord before the reload: $(echo $CONNS_A)"
meshlab_pinger pinger a "$MESHLAB_B4"
lab_wait_until 5 "background ping answered" grep -q "bytes from" "$(lab_logfile pinger)"

# Renewal in place, as certbot does it: a new key and certificate (new serial) at the same paths.
lab_tls_cert renewed "DNS:$MESHLAB_COORD_NAME"
SERIAL2=$(cert_serial "$TLS/renewed.pem")
[[ $SERIAL2 != "$SERIAL1" ]] || lab_fail "the renewed certificate has the old serial"
cp "$TLS/renewed.pem" "$COORD_CERT"; cp "$TLS/renewed.key" "$COORD_KEY"
RELOAD=$EPOCHREALTIME
kill -HUP "$(lab_pid coord)"
lab_wait_until 10 "new connections see the renewed certificate (serial $SERIAL2)" serves_serial a "$MESHLAB_COORD_NAME" "$SERIAL2"
lab_check "meshcoord logged the reload" grep -q "TLS certificate reloaded from $COORD_CERT: serial $SERIAL2.*(was serial $SERIAL1)" "$(lab_logfile coord)"
lab_check "meshcoord still runs after SIGHUP" lab_alive coord
still_open() { # every connection of a from before the reload that is a relay one is still there
    local now; now=$(established_to a "$MESHLAB_COORD")
    grep -qxF -f <(echo "$now") <(echo "$CONNS_A")
}
lab_check "a's long-lived connection to meshcoord from before the reload is still open" still_open
for n in a b; do
    lab_check "$n's control connection is up after the reload" meshlab_status_has "$n" "j.get('control') == 'connected'"
    lab_check "$n's relay connection to meshcoord is up after the reload" relay_connected "$n" default
done

# A netmap change after the reload still reaches the nodes (their long-poll works).
B_ID=$("$MESH_BIN/meshcoord" node list --json --state-dir "$LAB_DIR/coord" \
    | "$LAB_PY" -c 'import json,sys; print(next(n["id"] for n in json.load(sys.stdin) if n["name"] == "b"))')
"$MESH_BIN/meshcoord" node rename --state-dir "$LAB_DIR/coord" "$B_ID" b-renewed >/dev/null || lab_fail "node rename failed"
lab_wait_until 10 "a's netmap shows b renamed (long-poll after the reload)" \
    meshlab_status_has a "[p for p in j['peers'] if p.get('name') == 'b-renewed']"
lab_check "5/5 pings a -> b after the reload" lab_ping_ok a "$MESHLAB_B4" 5
lab_check "5/5 pings b -> a after the reload" lab_ping_ok b "$MESHLAB_A4" 5
GAP=$(meshlab_max_gap pinger "$RELOAD")
lab_info "longest gap between ping replies since the reload: ${GAP}s"
awk -v g="$GAP" 'BEGIN{exit !(g <= 1.5)}' || lab_fail "pings stalled ${GAP}s around the reload (limit 1.5 s)"

# A bad reload: a garbage key. The renewed certificate stays in service; meshcoord goes on.
printf 'not a key\n' > "$COORD_KEY"
kill -HUP "$(lab_pid coord)"
lab_wait_until 10 "meshcoord logged the failed reload" \
    grep -q "TLS reload failed, still serving serial $SERIAL2: TLS key file $COORD_KEY holds no readable PEM private key" "$(lab_logfile coord)"
lab_check "meshcoord still runs after the failed reload" lab_alive coord
lab_check "new connections still see serial $SERIAL2" serves_serial b "$MESHLAB_COORD_NAME" "$SERIAL2"
lab_check "a's control connection is still up" meshlab_status_has a "j.get('control') == 'connected'"
lab_check "5/5 pings a -> b after the failed reload" lab_ping_ok a "$MESHLAB_B4" 5
lab_check "no key material in meshcoord's log" bash -c "! grep -q 'PRIVATE KEY' '$(lab_logfile coord)'"
lab_done "meshcoord and a relay on 443 with their own TLS; SIGHUP: serial $SERIAL1 -> $SERIAL2 for new connections, open ones kept, ping gap ${GAP}s; garbage key refused, $SERIAL2 kept"
