# shellcheck shell=bash
# meshlab.sh - a coordinator and two meshd nodes on the NAT lab (natlab.sh), for the tests of
# the mesh itself: the NAT matrix, time to connect, keepalive, fallback, roaming, outages.
#
#     source lab.sh; source natlab.sh; source meshlab.sh
#     meshlab_up eim edm           # natlab + meshcoord on c + meshd in a and b
#     meshlab_wait_path a b relay  # a's path to b becomes "relay" (or direct[:ADDR])
#
# The coordinator runs on the public host c at 203.0.113.100:8080 (STUN on 3478 and 3479, the
# relay on its HTTP port), named coord.lab.test by the lab's DNS server (MESHLAB_NAMING); the
# nodes join with one reusable auth key and listen on UDP 41641.
#
# With NATLAB_IPV6=dual or only (natlab.sh) the coordinator is dual-stack as in the field:
# coord.lab.test has an AAAA record (2001:db8::100) besides its A record, the lab's DNS server
# answers on 2001:db8::53 (which every namespace then uses, so IPv6-only hosts resolve too), a
# second nginx terminates TLS on [2001:db8::100]:443, and STUN answers on every address of c in
# both families (--stun-listen ::). Only with the default naming (https through nginx).

MESHLAB_COORD=203.0.113.100
MESHLAB_PORT=41641
# How nodes reach the coordinator: "https" (the default, as in the field: https://coord.lab.test
# through an nginx TLS proxy on c:443 with a certificate from the lab's private CA, the name
# from the lab's own DNS server on 203.0.113.53), "dns" (http://coord.lab.test:8080) or
# "literal" (http://203.0.113.100:8080).
MESHLAB_NAMING=${MESHLAB_NAMING:-https}
# The TLS proxy of "https": nginx (the default) or caddy; or none: meshcoord itself listens on
# c:443 with the certificate (--tls-cert/--tls-key, files in $LAB_DIR/tls, no port 8080).
MESHLAB_PROXY=${MESHLAB_PROXY:-nginx}
MESHLAB_COORD_NAME=coord.lab.test
MESHLAB_DNS_IP=203.0.113.53
MESHLAB_DNS_IP6=2001:db8::53
# Extra NAME=ADDR records for the lab's DNS server (e.g. a relay in another region).
MESHLAB_DNS_EXTRA=${MESHLAB_DNS_EXTRA:-}
meshlab_coord_url() {
    case $MESHLAB_NAMING in
        https) echo "https://$MESHLAB_COORD_NAME" ;;
        dns) echo "http://$MESHLAB_COORD_NAME:8080" ;;
        *) echo "http://$MESHLAB_COORD:8080" ;;
    esac
}
# The proxy connects from the coordinator's own address: it is not held to the per-source cap.
meshlab_coord_proxy_args() { [[ $MESHLAB_NAMING == https && $MESHLAB_PROXY != none ]] && echo "--trusted-proxy $MESHLAB_COORD"; return 0; }
meshlab_coord_tls_itself() { [[ $MESHLAB_NAMING == https && $MESHLAB_PROXY == none ]]; }
# The port meshcoord's node API listens on.
meshlab_coord_port() { if meshlab_coord_tls_itself; then echo 443; else echo 8080; fi; }
# What meshd needs to trust the lab's proxy.
meshlab_node_tls_args() { [[ $MESHLAB_NAMING == https ]] && echo "--ca-file $LAB_DIR/tls/ca.pem"; return 0; }

meshlab_status_has() { # NAME PYTHON_EXPR (j = status JSON)
    lab_meshd_status "$1" || return 1
    [[ $(lab_json "$LAB_DIR/$1.status.json" "bool($2)") == True ]]
}
meshlab_field() { lab_meshd_status "$1" && lab_json "$LAB_DIR/$1.status.json" "$2"; }
# meshlab_peer_field NAME PEER EXPR: EXPR with p = the status entry of peer PEER (by name)
meshlab_peer_field() {
    lab_meshd_status "$1" || return 1
    lab_json "$LAB_DIR/$1.status.json" "next((($3) for p in j['peers'] if p.get('name') == '$2'), None)"
}

meshlab_coord_start() { # NAME
    local tls_args="" stun_args=""
    # Dual-stack STUN: one socket per port on [::] answering both families.
    [[ $NATLAB_IPV6 != off ]] && stun_args="--stun-listen ::"
    if meshlab_coord_tls_itself; then
        [[ -f $LAB_DIR/tls/ca.pem ]] || lab_tls_ca
        [[ -f $LAB_DIR/tls/$MESHLAB_COORD_NAME.pem ]] || lab_tls_cert "$MESHLAB_COORD_NAME" "DNS:$MESHLAB_COORD_NAME"
        tls_args="--tls-cert $LAB_DIR/tls/$MESHLAB_COORD_NAME.pem --tls-key $LAB_DIR/tls/$MESHLAB_COORD_NAME.key"
    fi
    # MESHLAB_COORD_WRAP: a command prefix such as "prlimit --nofile=1024:1024" (it must exec)
    # shellcheck disable=SC2086
    lab_start "$1" c ${MESHLAB_COORD_WRAP:-} "$MESH_BIN/meshcoord" serve --state-dir "$LAB_DIR/coord" \
        --listen "$MESHLAB_COORD:$(meshlab_coord_port)" --stun-ports 3478,3479 $stun_args --public-url "$(meshlab_coord_url)" \
        $(meshlab_coord_proxy_args) $tls_args ${MESHLAB_COORD_ARGS:-}
    lab_wait_until 20 "meshcoord listening" lab_listening c tcp "$(meshlab_coord_port)"
    lab_wait_until 10 "meshcoord admin socket answers" lab_q "$MESH_BIN/meshcoord" authkey list --state-dir "$LAB_DIR/coord"
    if [[ $MESHLAB_NAMING == https && $MESHLAB_PROXY != none && -z ${LAB_PID[proxy]:-} ]]; then
        lab_tls_ca
        lab_tls_cert "$MESHLAB_COORD_NAME" "DNS:$MESHLAB_COORD_NAME"
        case $MESHLAB_PROXY in
            nginx) lab_nginx proxy c "$MESHLAB_COORD:443" "$MESHLAB_COORD_NAME" "$MESHLAB_COORD:8080" ;;
            caddy) lab_caddy proxy c "$MESHLAB_COORD" "$MESHLAB_COORD_NAME" "$MESHLAB_COORD:8080" ;;
            *) lab_fail "MESHLAB_PROXY=$MESHLAB_PROXY: nginx, caddy or none" ;;
        esac
        if [[ $NATLAB_IPV6 != off ]]; then
            # The same server on c's IPv6 address (one listen address per lab_nginx). Port 443 is
            # already open on IPv4, so wait for this very address.
            lab_nginx proxy6 c "[$NATLAB_C_IP6]:443" "$MESHLAB_COORD_NAME" "$MESHLAB_COORD:8080"
            lab_wait_until 10 "nginx proxy6 listening on [$NATLAB_C_IP6]:443" meshlab_listening_on c "[$NATLAB_C_IP6]:443"
        fi
    fi
}
# meshlab_listening_on NS ADDR:PORT: a TCP socket listens on exactly that address
meshlab_listening_on() { lab_in "$1" ss -H -ltn "src $2" 2>/dev/null | grep -q .; }

# A node joins with MESHLAB_TOKEN_<NAME> when the test set one (an auth key of a user or with
# tags, made e.g. in meshlab_after_coord), else with the shared MESHLAB_TOKEN.
_meshlab_node_launch() { # NAME NS [extra meshd args]
    local name=$1 ns=$2; shift 2
    rm -f "$LAB_DIR/$name.sock"
    local token_var="MESHLAB_TOKEN_$name" token_file=$LAB_DIR/join-token
    [[ -n ${!token_var:-} ]] && token_file=$LAB_DIR/$name.join-token
    # The documented way: the token in a file only root can read, never on the command line.
    (umask 077; printf '%s\n' "${!token_var:-$MESHLAB_TOKEN}" > "$token_file")
    # MESHLAB_ENV_<NAME>: "VAR=value ..." in that node's meshd environment (such as HTTPS_PROXY)
    local env_var="MESHLAB_ENV_$name"
    # shellcheck disable=SC2086
    lab_start "$name" "$ns" env ${!env_var:-} "$MESH_BIN/meshd" up --join-file "$token_file" --hostname "$name" \
        --state-dir "$LAB_DIR/$name-state" --socket "$LAB_DIR/$name.sock" --port "$MESHLAB_PORT" $(meshlab_node_tls_args) "$@"
}

meshlab_node_start() { # NAME NS [extra meshd args]
    _meshlab_node_launch "$@"
    lab_wait_until 20 "meshd $1 up in $2" meshlab_status_has "$1" "j.get('control') == 'connected'"
}

# meshlab_public_node NAME IP IP6 [extra meshd args]: one more node, on a public host NAME at
# IP (and IP6 with NATLAB_IPV6 on) on the internet bridge, no NAT in front of it (a server);
# after meshlab_up. NAME is also its hostname and must be a shell identifier (MESHLAB_TOKEN_<NAME>).
meshlab_public_node() {
    local name=$1 ip=$2 ip6=$3; shift 3
    natlab_public_host "$name" "$ip"
    if [[ $NATLAB_IPV6 != off ]]; then natlab_ipv6_public_host "$name" "$ip6"; fi
    meshlab_node_start "$name" "$name" "$@"
}

# Stops meshd NAME and starts it again on the same state directory, without waiting for the
# coordinator (which may be down); sets MESHLAB_RESTARTED_AT to when the new process started.
meshlab_node_restart() { # NAME NS [extra meshd args]
    lab_stop "$1"
    MESHLAB_RESTARTED_AT=$EPOCHREALTIME
    _meshlab_node_launch "$@"
}

# Waits (up to DEADLINE s) until NAME pings TARGET, then fails unless that was within LIMIT s
# of the restart.
meshlab_back_within() { # NAME TARGET LIMIT DEADLINE
    lab_wait_until "$4" "restarted $1 reaches $2" lab_in "$1" ping -n -c 1 -W 0.3 "$2"
    MESHLAB_BACK_AFTER=$(meshlab_since "$MESHLAB_RESTARTED_AT")
    awk -v t="$MESHLAB_BACK_AFTER" -v l="$3" 'BEGIN{exit !(t <= l)}' \
        || lab_fail "restarted $1 reached $2 only ${MESHLAB_BACK_AFTER}s after meshd started (limit $3 s)"
    lab_pass "restarted $1 reached $2 ${MESHLAB_BACK_AFTER}s after meshd started (limit $3 s)"
}

meshlab_up() { # TYPE_A TYPE_B
    lab_mesh_bin
    [[ -x $MESH_BIN/meshcoord ]] || lab_fail "no meshcoord at $MESH_BIN/meshcoord"
    if [[ ${NATLAB_IPV6:-off} != off && ($MESHLAB_NAMING != https || $MESHLAB_PROXY != nginx) ]]; then
        lab_fail "NATLAB_IPV6=$NATLAB_IPV6 is modelled with MESHLAB_NAMING=https and MESHLAB_PROXY=nginx only"
    fi
    natlab_up "$1" "$2"
    if [[ $MESHLAB_NAMING != literal ]]; then
        natlab_public_host dns "$MESHLAB_DNS_IP"
        local dns_ip=$MESHLAB_DNS_IP records="$MESHLAB_COORD_NAME=$MESHLAB_COORD"
        if [[ $NATLAB_IPV6 != off ]]; then
            natlab_ipv6_public_host dns "$MESHLAB_DNS_IP6"
            dns_ip=$MESHLAB_DNS_IP6
            records+=" $MESHLAB_COORD_NAME=$NATLAB_C_IP6"
        fi
        # shellcheck disable=SC2086
        lab_dns dns "$dns_ip" $records $MESHLAB_DNS_EXTRA
        if [[ $1 == block-udp ]]; then lab_dns_tcp a; fi
        if [[ $2 == block-udp ]]; then lab_dns_tcp b; fi
    fi
    meshlab_coord_start coord
    # A test may define meshlab_after_coord to start more servers before the nodes join.
    if declare -F meshlab_after_coord >/dev/null; then meshlab_after_coord; fi
    MESHLAB_TOKEN=$("$MESH_BIN/meshcoord" authkey create --reusable --state-dir "$LAB_DIR/coord" 2>/dev/null)
    [[ $MESHLAB_TOKEN == mesh1_* ]] || lab_fail "authkey create gave no token: $MESHLAB_TOKEN"
    MESHLAB_T0=$EPOCHREALTIME
    meshlab_node_start a a
    meshlab_node_start b b
    lab_wait_until 5 "a sees b in its netmap" meshlab_status_has a "[p for p in j['peers'] if p.get('name') == 'b']"
    lab_wait_until 5 "b sees a in its netmap" meshlab_status_has b "[p for p in j['peers'] if p.get('name') == 'a']"
    if [[ $MESHLAB_NAMING == https ]]; then meshlab_check_https a; meshlab_check_https b; fi
    MESHLAB_A4=$(meshlab_field a "j['ipv4']")
    MESHLAB_B4=$(meshlab_field b "j['ipv4']")
    lab_info "overlay: a = $MESHLAB_A4, b = $MESHLAB_B4"
}

# meshlab_check_https NAME: the node reached the coordinator and its relay through the TLS proxy
meshlab_check_https() {
    local url="https://$MESHLAB_COORD_NAME"
    lab_check "$1 follows the coordinator at $url" meshlab_status_has "$1" "j.get('coordinator') == '$url' and j.get('control') == 'connected'"
    lab_wait_until 10 "$1's relay connection is up $(meshlab_coord_tls_itself && echo "over meshcoord's own TLS" || echo "through the proxy")" \
        meshlab_status_has "$1" "any(r.get('url') == '$url/relay' and r.get('connected') for r in j.get('relays', []))"
    meshlab_coord_tls_itself || lab_check "the proxy ($MESHLAB_PROXY) passed $1's registration" meshlab_proxy_passed_registration
}
# The proxy's access log holds an answered registration (nginx: combined format; caddy: JSON);
# with IPv6 in the lab, the log of either nginx (IPv4 or IPv6 address).
meshlab_proxy_passed_registration() {
    local log=$LAB_DIR/proxy/access.log
    case $MESHLAB_PROXY in
        nginx) grep -qs '"POST /v1/register HTTP/1.1" 200' "$log" "$LAB_DIR/proxy6/access.log" ;;
        caddy) grep '"uri":"/v1/register"' "$log" | grep -q '"status":200' ;;
    esac
}

meshlab_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b-a}'; }

# meshlab_path_is NAME PEER WANT: WANT is "relay", "direct" or "direct:IP:PORT"
meshlab_path_is() {
    local path; path=$(meshlab_peer_field "$1" "$2" "p.get('path')") || return 1
    case $3 in
        relay) [[ $path == relay ]] ;;
        direct) [[ $path == direct\ * ]] ;;
        direct:*) [[ $path == "direct ${3#direct:}" ]] ;;
    esac
}
meshlab_wait_path() { # NAME PEER WANT DEADLINE
    lab_poll "$4" meshlab_path_is "$1" "$2" "$3" && { lab_pass "$1's path to $2 is $3"; return 0; }
    lab_fail "$1's path to $2 is not $3 after $4 s: it is '$(meshlab_peer_field "$1" "$2" "p.get('path')")'"
}

# meshlab_row TYPE_A TYPE_B EXPECTED [DIRECT_ADDR_OF_B]: one row of the NAT matrix
meshlab_row() {
    local ta=$1 tb=$2 want=$3 addr=${4:-}
    meshlab_up "$ta" "$tb"
    lab_wait_until 10 "first ping a -> b over the overlay" lab_in a ping -n -c 1 -W 1 "$MESHLAB_B4"
    lab_info "time from both nodes up to the first ping reply: $(meshlab_since "$MESHLAB_T0")s"
    if [[ $want == direct ]]; then
        meshlab_wait_path a b "direct${addr:+:$addr}" 10
        meshlab_wait_path b a direct 10
    else
        # Give discovery a fair chance (several rounds), then require the relay.
        lab_poll 8 meshlab_path_is a b direct && lab_fail "$ta/$tb: expected relay, but a found a direct path"
        meshlab_wait_path a b relay 5
    fi
    lab_info "a's path to b: $(meshlab_peer_field a b "p.get('path')")"
    meshlab_traffic "$ta/$tb"
    lab_done "$ta/$tb: $want ($(meshlab_peer_field a b "p.get('path')")), ping both ways, TCP $LAB_MBPS Mbit/s"
}

# meshlab_traffic LABEL: the row's traffic checks: 5/5 pings each way between a and b over the
# overlay, then a 5 s TCP transfer a -> b that must carry data (LAB_MBPS, LAB_RETR set).
meshlab_traffic() {
    local label=$1
    lab_wait_until 15 "$label: first ping a -> b" lab_in a ping -n -c 1 -W 1 "$MESHLAB_B4"
    lab_check "$label: 5/5 pings a -> b" lab_ping_ok a "$MESHLAB_B4" 5
    lab_check "$label: 5/5 pings b -> a" lab_ping_ok b "$MESHLAB_A4" 5
    lab_iperf_server iperf b
    lab_iperf a "$MESHLAB_B4" 5 || lab_fail "$label: 5 s TCP transfer a -> b failed ($LAB_IPERF_ERR)"
    awk -v m="$LAB_MBPS" 'BEGIN{exit !(m > 0)}' || lab_fail "$label: 5 s TCP transfer a -> b carried nothing"
    lab_pass "$label: 5 s TCP transfer a -> b at $LAB_MBPS Mbit/s, retransmits $LAB_RETR"
}

# meshlab_direct NAME PEER_NAME PEER_IP: traffic until NAME's path to PEER is direct
meshlab_direct() {
    lab_wait_until 10 "first ping $1 -> $2" lab_in "$1" ping -n -c 1 -W 1 "$3"
    meshlab_wait_path "$1" "$2" direct 10
}

# meshlab_pinger NAME NS DEST: a ping every 0.1 s in the background, timestamped (-D), log in $LAB_DIR
meshlab_pinger() {
    lab_start "$1" "$2" ping -D -n -i 0.1 -W 1 "$3"
}

# meshlab_max_gap LOGNAME FROM_EPOCH: the longest time in seconds between two echo replies (or
# from FROM_EPOCH to the first one, or from the last one to now) after FROM_EPOCH
meshlab_max_gap() {
    "$LAB_PY" - "$(lab_logfile "$1")" "$2" "$EPOCHREALTIME" <<'EOF'
import re, sys
t0, now = float(sys.argv[2]), float(sys.argv[3])
times = [float(m.group(1)) for m in re.finditer(r"^\[(\d+\.\d+)\] \d+ bytes from", open(sys.argv[1]).read(), re.M)]
times = [t for t in times if t >= t0]
points = [t0] + times + [now]
print(f"{max(b - a for a, b in zip(points, points[1:])):.2f}")
EOF
}

# meshlab_cut ROUTER PEER_PUBLIC_IP: drop UDP between ROUTER's network and PEER (a firewall rule)
meshlab_cut() {
    lab_in "$1" nft add chain ip natlab cut '{ type filter hook forward priority -10; }'
    lab_in "$1" nft add rule ip natlab cut meta l4proto udp ip daddr "$2" drop
    lab_in "$1" nft add rule ip natlab cut meta l4proto udp ip saddr "$2" drop
}
meshlab_uncut() {
    lab_in "$1" nft flush chain ip natlab cut
    lab_in "$1" nft delete chain ip natlab cut
}

# meshlab_published NAME ENDPOINT: the coordinator holds ENDPOINT ("203.0.113.11:41641" or
# "[2001:db8:1::10]:41641") among node NAME's published endpoints
meshlab_published() {
    "$MESH_BIN/meshcoord" node list --json --state-dir "$LAB_DIR/coord" > "$LAB_DIR/nodes.json" 2>/dev/null || return 1
    lab_json "$LAB_DIR/nodes.json" "any(n['name'] == '$1' and '$2' in n.get('endpoints', []) for n in j)" | grep -qx True
}
meshlab_endpoints_of() {
    "$MESH_BIN/meshcoord" node list --json --state-dir "$LAB_DIR/coord" > "$LAB_DIR/nodes.json" 2>/dev/null || return 1
    lab_json "$LAB_DIR/nodes.json" "' '.join(next((n.get('endpoints', []) for n in j if n['name'] == '$1'), []))"
}

# meshlab_ipv6_pair: a and b behind "eim" routers with NATLAB_IPV6 on (dual or only), the
# coordinator by name over https: both publish their global IPv6 endpoint, reach each other
# directly over IPv6 (within 10 s of the first ping), ping both ways and carry a TCP transfer.
meshlab_ipv6_pair() {
    meshlab_up eim eim
    local e
    for e in "a [$NATLAB_A_IP6]:$MESHLAB_PORT" "b [$NATLAB_B_IP6]:$MESHLAB_PORT"; do
        # shellcheck disable=SC2086
        lab_wait_until 10 "the coordinator has ${e% *}'s IPv6 endpoint ${e#* }" meshlab_published $e
    done
    lab_info "published: a: $(meshlab_endpoints_of a); b: $(meshlab_endpoints_of b)"
    lab_wait_until 10 "first ping a -> b over the overlay" lab_in a ping -n -c 1 -W 1 "$MESHLAB_B4"
    local t_ping; t_ping=$(meshlab_since "$MESHLAB_T0")
    meshlab_wait_path a b "direct:[$NATLAB_B_IP6]:$MESHLAB_PORT" 10
    MESHLAB_DIRECT_AFTER=$(meshlab_since "$MESHLAB_T0")
    meshlab_wait_path b a "direct:[$NATLAB_A_IP6]:$MESHLAB_PORT" 10
    lab_info "from both nodes up: first ping reply after ${t_ping}s, a's path to b direct over IPv6 after ${MESHLAB_DIRECT_AFTER}s"
    meshlab_traffic "IPv6 $NATLAB_IPV6"
    local b6; b6=$(meshlab_field b "j['ipv6']")
    lab_check "IPv6 $NATLAB_IPV6: 5/5 pings a -> b's overlay IPv6 $b6" lab_ping_ok a "$b6" 5
}
