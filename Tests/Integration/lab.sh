# shellcheck shell=bash
# lab.sh - a small network-namespace lab for mesh's integration tests and benchmarks.
#
# Source it from a bash script:
#
#     source "$(dirname "$0")/lab.sh"      # sets traps, makes $LAB_DIR
#     lab_ns_add a b
#     lab_veth a veth0 10.77.0.1/24  b veth0 10.77.0.2/24
#     lab_start srv b iperf3 -s
#     lab_wait_until 10 "iperf3 listening" lab_listening b tcp 5201
#     lab_check "ping a->b" lab_in a ping -c 1 -W 1 10.77.0.2
#     lab_done                              # prints the PASS summary, exits 0
#
# Rules it enforces for every test that uses it:
#   - namespaces are named "$LAB_ID-<name>" where LAB_ID is unique per run (mt<pid>);
#   - every process it starts is recorded (name -> PID) and killed by PID in lab_cleanup;
#   - lab_cleanup runs on EXIT, INT and TERM: kills what it started, deletes its namespaces,
#     removes wireguard-go UAPI sockets of the interfaces it created, deletes its temp dir;
#   - waiting is done with lab_wait_until (poll every 0.1 s up to a deadline), never with
#     a fixed sleep.
# Addresses: only 10.x (LANs / overlay) and 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24
# (simulated public hosts) may be used by callers.

if [[ -n ${LAB_SOURCED:-} ]]; then return 0; fi
LAB_SOURCED=1

LAB_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB_NAME=${LAB_NAME:-$(basename "${0%.sh}")}
LAB_ID=${LAB_ID:-mt$$}
LAB_MAIN_PID=$$
LAB_DIR=$(mktemp -d "/tmp/meshlab-$LAB_NAME.XXXXXX")
chmod 700 "$LAB_DIR"
LAB_PY=/usr/bin/python3
[[ -x $LAB_PY ]] || LAB_PY=$(command -v python3)

declare -A LAB_PID=()     # name -> pid
declare -A LAB_LOG=()     # name -> log file
declare -a LAB_ORDER=()   # names in start order
declare -a LAB_NSS=()     # short namespace names we created
declare -a LAB_WG_IFS=()  # wireguard-go interfaces (UAPI socket in /var/run/wireguard)
LAB_CHECKS=0
LAB_T0=$EPOCHREALTIME
LAB_CLEANED=0

# ---------------------------------------------------------------- output
_lab_ts() { printf '%6.1fs' "$(_lab_elapsed)"; }
_lab_elapsed() { awk -v a="$LAB_T0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}'; }
lab_info() { printf '[%s %s] %s\n' "$LAB_NAME" "$(_lab_ts)" "$*"; }
lab_pass() { LAB_CHECKS=$((LAB_CHECKS + 1)); printf '[%s %s] ok   %s\n' "$LAB_NAME" "$(_lab_ts)" "$*"; }
lab_warn() { printf '[%s %s] WARN %s\n' "$LAB_NAME" "$(_lab_ts)" "$*" >&2; }

# lab_dump_logs [LINES]: the tail of every log of a process we started
lab_dump_logs() {
    local n=${1:-${LAB_LOG_LINES:-60}} name
    for name in "${LAB_ORDER[@]}"; do
        local f=${LAB_LOG[$name]:-}
        [[ -n $f && -f $f ]] || continue
        echo "----- log of $name (pid ${LAB_PID[$name]:-?}), last $n lines: $f" >&2
        tail -n "$n" "$f" >&2
    done
    echo "----- end of logs$([[ ${LAB_KEEP:-0} == 1 ]] || echo " (LAB_KEEP=1 keeps $LAB_DIR after the test)")" >&2
}

# lab_fail MESSAGE: print the failure, the logs of everything started, exit 1 (cleanup via trap)
lab_fail() {
    echo "[$LAB_NAME $(_lab_ts)] FAIL $*" >&2
    lab_dump_logs
    echo "RESULT $LAB_NAME: FAIL ($*)" >&2
    exit 1
}

# lab_done [SUMMARY]: final PASS line, exit 0
lab_done() {
    echo "RESULT $LAB_NAME: PASS ($LAB_CHECKS checks in $(_lab_elapsed)s)${1:+ - $1}"
    exit 0
}

# lab_check DESCRIPTION command...: run once, pass or fail the test
lab_check() {
    local desc=$1; shift
    if "$@"; then lab_pass "$desc"; else lab_fail "$desc (command: $*)"; fi
}

# lab_q command...: run with stdout and stderr discarded
lab_q() { "$@" >/dev/null 2>&1; }

# ---------------------------------------------------------------- waiting
# lab_wait_until DEADLINE_SECONDS DESCRIPTION command...
# Polls the command every 0.1 s until it succeeds; on timeout fails the test with the logs.
lab_wait_until() {
    local secs=$1 desc=$2; shift 2
    local t0=$EPOCHREALTIME
    local deadline; deadline=$(awk -v a="$t0" -v s="$secs" 'BEGIN{printf "%.3f", a+s}')
    while true; do
        if "$@" >/dev/null 2>&1; then
            lab_pass "$desc (after $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')s)"
            return 0
        fi
        if awk -v d="$deadline" -v n="$EPOCHREALTIME" 'BEGIN{exit !(n>d)}'; then
            echo "[$LAB_NAME] last attempt of: $*" >&2
            "$@" 2>&1 | tail -n 20 >&2 || true
            lab_fail "timed out after ${secs}s waiting for: $desc"
        fi
        sleep 0.1
    done
}

# lab_poll DEADLINE_SECONDS command...: like lab_wait_until, but returns 1 instead of failing
lab_poll() {
    local secs=$1; shift
    local deadline; deadline=$(awk -v a="$EPOCHREALTIME" -v s="$secs" 'BEGIN{printf "%.3f", a+s}')
    until "$@" >/dev/null 2>&1; do
        awk -v d="$deadline" -v n="$EPOCHREALTIME" 'BEGIN{exit !(n>d)}' && return 1
        sleep 0.1
    done
}

# ---------------------------------------------------------------- namespaces and links
lab_ns() { echo "$LAB_ID-$1"; }
lab_in() { local n=$1; shift; ip netns exec "$LAB_ID-$n" "$@"; }

# lab_ns_add NAME...: namespace with lo up and IPv6 off
lab_ns_add() {
    local n
    for n in "$@"; do
        ip netns add "$LAB_ID-$n" || lab_fail "ip netns add $LAB_ID-$n"
        LAB_NSS+=("$n")
        lab_in "$n" ip link set lo up
        lab_in "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
        # Once the lab has a DNS server, namespaces made later resolve through it too.
        if [[ -n ${LAB_DNS_IP:-} ]]; then lab_dns_use "$n"; fi
    done
}

# lab_veth NS1 IF1 CIDR1 NS2 IF2 CIDR2: a veth pair between two namespaces, addressed and up
lab_veth() {
    local n1=$1 if1=$2 a1=$3 n2=$4 if2=$5 a2=$6
    ip link add "$if1" netns "$LAB_ID-$n1" type veth peer name "$if2" netns "$LAB_ID-$n2" \
        || lab_fail "veth $n1/$if1 <-> $n2/$if2"
    lab_in "$n1" ip addr add "$a1" dev "$if1"
    lab_in "$n2" ip addr add "$a2" dev "$if2"
    lab_in "$n1" ip link set "$if1" up
    lab_in "$n2" ip link set "$if2" up
}

# lab_link_up NS IFACE: true when the interface exists and is administratively up
# lab_tcp_open NS HOST PORT: a TCP connection from NS to HOST:PORT is accepted within 2 s;
# lab_tcp_closed: it is not (dropped or refused), as a firewall test wants.
lab_tcp_open() { lab_in "$1" timeout 2 bash -c "exec 3<>/dev/tcp/$2/$3"; }
lab_tcp_closed() { ! lab_tcp_open "$@"; }
lab_link_up() { lab_in "$1" ip -o link show dev "$2" 2>/dev/null | grep -q '[<,]UP[,>]'; }

# lab_listening NS tcp|udp PORT
lab_listening() {
    local flag=-ltn; [[ $2 == udp ]] && flag=-lun
    lab_in "$1" ss -H "$flag" "sport = :$3" 2>/dev/null | grep -q .
}

# ---------------------------------------------------------------- DNS
# lab_dns NS IP NAME=ADDR...: a real DNS server (dnsmasq) in namespace NS on IP:53 that answers
# the given names (A records; nothing else, no upstream), and every namespace of the lab (made
# so far, and any made later by lab_dns_use) resolves through it: ip netns exec bind-mounts
# /etc/netns/<ns>/resolv.conf over /etc/resolv.conf for what it starts. The name files live in
# /etc/netns/$LAB_ID-* and go with the namespaces in lab_cleanup.
LAB_DNS_IP=""
lab_dns() {
    local ns=$1 ip=$2; shift 2
    command -v dnsmasq >/dev/null || lab_fail "dnsmasq is missing (Packaging/install-deps.sh installs dnsmasq-base)"
    local hosts=$LAB_DIR/dns-hosts entry
    : > "$hosts"
    for entry in "$@"; do printf '%s %s\n' "${entry#*=}" "${entry%%=*}" >> "$hosts"; done
    lab_start "dns" "$ns" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
        --addn-hosts="$hosts" --local=/test/ --listen-address="$ip" --bind-interfaces --port=53 --user=root --group=root \
        --pid-file= --log-facility=- --log-queries
    LAB_DNS_IP=$ip
    lab_wait_until 10 "lab DNS server on $ip:53" lab_listening "$ns" udp 53
    local n; for n in "${LAB_NSS[@]}"; do lab_dns_use "$n"; done
}

# lab_dns_use NS...: these namespaces resolve names through the lab's DNS server
lab_dns_use() {
    local n
    [[ -n $LAB_DNS_IP ]] || lab_fail "lab_dns_use before lab_dns"
    for n in "$@"; do
        mkdir -p "/etc/netns/$LAB_ID-$n"
        printf 'nameserver %s\noptions timeout:1 attempts:2\n' "$LAB_DNS_IP" > "/etc/netns/$LAB_ID-$n/resolv.conf"
        # No /etc/hosts of the machine inside the lab: names come from the lab's DNS only.
        printf '127.0.0.1 localhost\n::1 localhost\n' > "/etc/netns/$LAB_ID-$n/hosts"
    done
}

# lab_dns_tcp NS...: these namespaces ask the lab's DNS server over TCP (behind a firewall
# that drops UDP, as a resolver must there)
lab_dns_tcp() {
    local n
    for n in "$@"; do
        lab_dns_use "$n"
        printf 'nameserver %s\noptions timeout:1 attempts:2 use-vc\n' "$LAB_DNS_IP" > "/etc/netns/$LAB_ID-$n/resolv.conf"
    done
}

# ---------------------------------------------------------------- TLS
# lab_tls_ca: a private CA for the lab in $LAB_DIR/tls (ca.pem), made with openssl, as a team
# with its own CA has; lab_tls_cert NAME ALTNAMES issues NAME.pem/NAME.key for subject
# alternative names such as "DNS:coord.lab.test,IP:203.0.113.100".
lab_tls_ca() {
    command -v openssl >/dev/null || lab_fail "openssl is missing (Packaging/install-deps.sh installs it)"
    mkdir -p "$LAB_DIR/tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=mesh-lab-ca \
        -keyout "$LAB_DIR/tls/ca.key" -out "$LAB_DIR/tls/ca.pem" >/dev/null 2>&1 || lab_fail "openssl: lab CA"
}
lab_tls_cert() { # NAME ALTNAMES
    local d=$LAB_DIR/tls
    printf 'subjectAltName=%s\n' "$2" > "$d/$1.ext"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$1" \
        -keyout "$d/$1.key" -out "$d/$1.csr" >/dev/null 2>&1 &&
    openssl x509 -req -in "$d/$1.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
        -extfile "$d/$1.ext" -out "$d/$1.pem" >/dev/null 2>&1 || lab_fail "openssl: certificate for $1"
}

# lab_nginx NAME NS LISTEN SERVER_NAME UPSTREAM: nginx in NS terminating TLS on LISTEN (IP:PORT)
# for SERVER_NAME (certificate from lab_tls_cert SERVER_NAME) and proxying everything to
# http://UPSTREAM as the README's snippet does: HTTP/1.1, Upgrade and Connection passed on (the
# relay upgrade and WebSocket), long timeouts for the long-poll and relay connections, no
# buffering. One process (master_process off), so the PID lab_start records is the whole server.
lab_nginx() {
    local name=$1 ns=$2 listen=$3 server=$4 upstream=$5 refuse=""
    command -v nginx >/dev/null || lab_fail "nginx is missing (Packaging/install-deps.sh installs nginx-light)"
    local d=$LAB_DIR/$name
    # LAB_NGINX_WEBSOCKET_ONLY=1: upgrades other than WebSocket get 403, as from proxies that
    # know only WebSocket (plain requests pass).
    [[ ${LAB_NGINX_WEBSOCKET_ONLY:-0} == 1 ]] && refuse='if ($upgrade_refused) { return 403; }'
    mkdir -p "$d/tmp"
    cat > "$d/nginx.conf" <<EOF
daemon off;
master_process off;
user root;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections 4096; }
http {
    access_log $d/access.log;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
    map \$http_upgrade \$upgrade_refused { default 1; '' 0; ~*^websocket\$ 0; }
    server {
        listen $listen ssl;
        server_name $server;
        ssl_certificate $LAB_DIR/tls/$server.pem;
        ssl_certificate_key $LAB_DIR/tls/$server.key;
        location / {
            $refuse
            proxy_pass http://$upstream;
            proxy_http_version 1.1;
            proxy_set_header Host \$host;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$connection_upgrade;
            proxy_set_header X-Forwarded-For \$remote_addr;
            proxy_read_timeout 3600s;
            proxy_send_timeout 3600s;
            proxy_buffering off;
        }
    }
}
EOF
    lab_start "$name" "$ns" nginx -c "$d/nginx.conf" -e "$d/error.log"
    lab_wait_until 10 "nginx $name listening on $listen" lab_listening "$ns" tcp "${listen##*:}"
}

# lab_tinyproxy NAME NS LISTEN_IP PORT: an HTTP proxy that allows CONNECT to port 443 only, as
# an office proxy does; it resolves names through the namespace's resolver. Its log (with every
# CONNECT) is $LAB_DIR/NAME/tinyproxy.log.
lab_tinyproxy() {
    local name=$1 ns=$2 ip=$3 port=$4
    command -v tinyproxy >/dev/null || lab_fail "tinyproxy is missing (Packaging/install-deps.sh installs tinyproxy-bin)"
    local d=$LAB_DIR/$name
    mkdir -p "$d"
    cat > "$d/tinyproxy.conf" <<EOF
User root
Group root
Port $port
Listen $ip
Timeout 600
LogFile "$d/tinyproxy.log"
LogLevel Connect
MaxClients 100
Allow 0.0.0.0/0
ConnectPort 443
DisableViaHeader Yes
EOF
    lab_start "$name" "$ns" tinyproxy -d -c "$d/tinyproxy.conf"
    lab_wait_until 10 "tinyproxy $name listening on $ip:$port" lab_listening "$ns" tcp "$port"
}

# lab_caddy NAME NS LISTEN_IP SERVER_NAME UPSTREAM: Caddy in NS terminating TLS on LISTEN_IP:443
# for SERVER_NAME (certificate from lab_tls_cert SERVER_NAME) and proxying everything to
# http://UPSTREAM as the README's Caddy snippet does (reverse_proxy passes upgrades on by itself;
# flush_interval -1 sends each answer at once). No admin endpoint, no ACME, no redirect listener;
# its state stays in $LAB_DIR/NAME.
lab_caddy() {
    local name=$1 ns=$2 ip=$3 server=$4 upstream=$5
    command -v caddy >/dev/null || lab_fail "caddy is missing (Packaging/install-deps.sh installs it)"
    local d=$LAB_DIR/$name
    mkdir -p "$d/data" "$d/config"
    cat > "$d/Caddyfile" <<EOF
{
	admin off
	auto_https disable_redirects
	storage file_system $d/data
}
https://$server:443 {
	bind $ip
	tls $LAB_DIR/tls/$server.pem $LAB_DIR/tls/$server.key
	log {
		output file $d/access.log
		format json
	}
	reverse_proxy $upstream {
		flush_interval -1
	}
}
EOF
    lab_start "$name" "$ns" env HOME="$d" XDG_DATA_HOME="$d/data" XDG_CONFIG_HOME="$d/config" \
        caddy run --config "$d/Caddyfile" --adapter caddyfile
    lab_wait_until 10 "caddy $name listening on $ip:443" lab_listening "$ns" tcp 443
}

# ---------------------------------------------------------------- processes
# lab_start NAME NS command...: run in the background inside namespace NS (or "-" for the
# root namespace), stdout+stderr to $LAB_DIR/NAME.log; the PID is recorded for cleanup.
lab_start() {
    local name=$1 ns=$2; shift 2
    [[ -z ${LAB_PID[$name]:-} ]] || lab_fail "lab_start: '$name' already started"
    local log=$LAB_DIR/$name.log
    : > "$log"
    if [[ $ns == - ]]; then
        "$@" >"$log" 2>&1 </dev/null &
    else
        # ip netns exec execs the command itself (no fork), so $! is the program's PID
        ip netns exec "$LAB_ID-$ns" "$@" >"$log" 2>&1 </dev/null &
    fi
    local pid=$!
    LAB_PID[$name]=$pid
    LAB_LOG[$name]=$log
    LAB_ORDER+=("$name")
    echo "$pid $name" >> "$LAB_DIR/pids"
}

# lab_adopt NAME PID [LOG]: record a process started another way (e.g. a daemonizing one)
lab_adopt() {
    LAB_PID[$1]=$2
    LAB_LOG[$1]=${3:-}
    LAB_ORDER+=("$1")
    echo "$2 $1" >> "$LAB_DIR/pids"
}

lab_pid() { echo "${LAB_PID[$1]:-}"; }
lab_logfile() { echo "${LAB_LOG[$1]:-$LAB_DIR/$1.log}"; }

_lab_pid_alive() { # running and not a zombie
    local p=$1 st
    [[ -n $p && -r /proc/$p/stat ]] || return 1
    st=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) || return 1
    [[ -n $st && $st != Z && $st != X ]]
}
# lab_alive NAME: the process is still running (not exited, not a zombie)
lab_alive() { _lab_pid_alive "${LAB_PID[$1]:-}"; }

_lab_pid_gone() { ! _lab_pid_alive "$1"; }

# lab_stop NAME [SIGNAL]: signal (TERM), wait up to 5 s, then KILL; reaps it; forgets it
lab_stop() {
    local name=$1 sig=${2:-TERM} pid=${LAB_PID[$1]:-}
    [[ -n $pid ]] || return 0
    if _lab_pid_alive "$pid"; then
        kill "-$sig" "$pid" 2>/dev/null || true
        if ! lab_poll 5 _lab_pid_gone "$pid"; then
            lab_warn "$name (pid $pid) ignored SIG$sig for 5 s, sending KILL"
            kill -KILL "$pid" 2>/dev/null || true
            lab_poll 5 _lab_pid_gone "$pid" || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
    unset "LAB_PID[$name]"
}

# lab_run [--out FILE] command...: run a long foreground command so that INT/TERM interrupt
# the test at once (bash defers traps while a foreground child runs, but not during `wait`);
# the command is killed by lab_cleanup if the test is interrupted. --out FILE: its stdout
# (stderr goes to FILE.err). Returns the command's exit status.
LAB_FG_PID=
lab_run() {
    if [[ $1 == --out ]]; then
        local out=$2; shift 2
        "$@" > "$out" 2> "$out.err" &
    else
        "$@" &
    fi
    LAB_FG_PID=$!
    local rc=0
    wait "$LAB_FG_PID" || rc=$?
    LAB_FG_PID=
    return "$rc"
}

# lab_cpu_ticks PID...: utime+stime in clock ticks, summed
lab_cpu_ticks() {
    local t=0 p
    for p in "$@"; do
        [[ -n $p && -r /proc/$p/stat ]] || continue
        # fields after the ")" of comm: state is $1 there, utime/stime are fields 14/15 overall
        t=$((t + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
    done
    echo "$t"
}

# ---------------------------------------------------------------- cleanup
lab_cleanup() {
    local rc=$?
    [[ $BASHPID == "$LAB_MAIN_PID" ]] || return 0
    [[ $LAB_CLEANED == 0 ]] || return 0
    LAB_CLEANED=1
    trap - ERR
    set +e
    local name pid n leftovers
    if [[ -n $LAB_FG_PID ]] && _lab_pid_alive "$LAB_FG_PID"; then
        kill -TERM "$LAB_FG_PID" 2>/dev/null
        lab_poll 5 _lab_pid_gone "$LAB_FG_PID" || kill -KILL "$LAB_FG_PID" 2>/dev/null
    fi
    for name in "${!LAB_PID[@]}"; do
        pid=${LAB_PID[$name]}
        _lab_pid_alive "$pid" && kill -TERM "$pid" 2>/dev/null
    done
    for name in "${!LAB_PID[@]}"; do
        pid=${LAB_PID[$name]}
        if ! lab_poll 5 _lab_pid_gone "$pid"; then
            echo "[$LAB_NAME] cleanup: $name (pid $pid) still alive after TERM, KILL" >&2
            kill -KILL "$pid" 2>/dev/null
            lab_poll 3 _lab_pid_gone "$pid"
        fi
        wait "$pid" 2>/dev/null
    done
    # Safety net: anything still running inside OUR namespaces was started by this test
    # (directly or by a child); it would keep the namespace's devices alive.
    for n in "${LAB_NSS[@]}"; do
        leftovers=$(ip netns pids "$LAB_ID-$n" 2>/dev/null | tr "\n" " ")
        if [[ -n $leftovers ]]; then
            echo "[$LAB_NAME] cleanup: untracked processes in $LAB_ID-$n: $leftovers (killing)" >&2
            # shellcheck disable=SC2086
            kill -KILL $leftovers 2>/dev/null
            for pid in $leftovers; do lab_poll 3 _lab_pid_gone "$pid"; done
        fi
    done
    for n in "${LAB_NSS[@]}"; do
        ip netns del "$LAB_ID-$n" 2>/dev/null
        [[ -d /etc/netns/$LAB_ID-$n ]] && rm -rf "/etc/netns/${LAB_ID:?}-$n"
    done
    for n in "${LAB_WG_IFS[@]}"; do rm -f "/var/run/wireguard/$n.sock"; done
    if [[ ${LAB_KEEP:-0} == 1 ]]; then
        echo "[$LAB_NAME] LAB_KEEP=1: logs kept in $LAB_DIR" >&2
    else
        rm -rf "$LAB_DIR"
    fi
    return "$rc"
}
trap lab_cleanup EXIT
# with set -e, say which command ended the test instead of dying silently
trap 'echo "[$LAB_NAME] FAIL: command exited $?: $BASH_COMMAND (${BASH_SOURCE[0]}:$LINENO)" >&2' ERR
trap 'echo "[$LAB_NAME] interrupted" >&2; exit 130' INT
trap 'echo "[$LAB_NAME] terminated" >&2; exit 143' TERM

# ---------------------------------------------------------------- binaries and keys
# MESH_BIN: where meshd and meshctl are; default: the release build of this repo
lab_mesh_bin() {
    if [[ -z ${MESH_BIN:-} ]]; then
        MESH_BIN=$(cd "$LAB_REPO" && swift build -c release --show-bin-path 2>/dev/null) \
            || lab_fail "cannot determine MESH_BIN (swift build --show-bin-path failed)"
    fi
    export MESH_BIN
    [[ -x $MESH_BIN/meshd ]] || lab_fail "no meshd at $MESH_BIN/meshd (build: swift build -c release)"
    [[ -x $MESH_BIN/meshctl ]] || lab_fail "no meshctl at $MESH_BIN/meshctl"
}

# lab_genkey meshd|wg FILE_PREFIX: writes PREFIX.key and PREFIX.pub (mode 0600)
lab_genkey() {
    local tool=$1 p=$2
    (
        umask 077
        if [[ $tool == meshd ]]; then
            "$MESH_BIN/meshd" genkey > "$p.key" && "$MESH_BIN/meshd" pubkey < "$p.key" > "$p.pub"
        else
            wg genkey > "$p.key" && wg pubkey < "$p.key" > "$p.pub"
        fi
    ) || lab_fail "key generation with $tool failed"
    [[ $(wc -c < "$p.key") -ge 44 && $(wc -c < "$p.pub") -ge 44 ]] || lab_fail "$tool produced an empty/short key ($p)"
}

# ---------------------------------------------------------------- meshd
# lab_meshd_conf FILE PRIVKEY_FILE ADDRESS LISTEN_PORT MTU PEER_PUB_FILE ALLOWED_IPS [ENDPOINT [KEEPALIVE]]
lab_meshd_conf() {
    local f=$1 key=$2 addr=$3 port=$4 mtu=$5 peer=$6 allowed=$7 ep=${8:-} ka=${9:-}
    (
        umask 077
        {
            echo "[Interface]"
            echo "PrivateKey = $(cat "$key")"
            echo "Address = $addr"
            echo "ListenPort = $port"
            echo "MTU = $mtu"
            echo
            echo "[Peer]"
            echo "PublicKey = $(cat "$peer")"
            echo "AllowedIPs = $allowed"
            if [[ -n $ep ]]; then echo "Endpoint = $ep"; fi
            if [[ -n $ka ]]; then echo "PersistentKeepalive = $ka"; fi
        } > "$f"
    )
}

lab_meshd_sock() { echo "$LAB_DIR/$1.sock"; }

# lab_meshctl NAME SUBCOMMAND args...: meshctl against the meshd started as NAME
# (--socket is given after the subcommand: `meshctl status --socket PATH --json`)
lab_meshctl() { local n=$1 sub=$2; shift 2; "$MESH_BIN/meshctl" "$sub" --socket "$LAB_DIR/$n.sock" "$@"; }

_lab_meshd_ready() {
    lab_alive "$1" || return 1
    lab_link_up "$2" "$3" || return 1
    lab_meshctl "$1" status --json >/dev/null 2>&1
}

# lab_meshd_start NAME NS CONFIG [IFACE]: start meshd, wait until its TUN is up and the
# local API answers
lab_meshd_start() {
    local name=$1 ns=$2 conf=$3 ifc=${4:-mesh0}
    rm -f "$LAB_DIR/$name.sock"
    # shellcheck disable=SC2086
    lab_start "$name" "$ns" "$MESH_BIN/meshd" --config "$conf" --interface "$ifc" \
        --socket "$LAB_DIR/$name.sock" ${LAB_MESHD_ARGS-"--verbose"}
    lab_wait_until "${LAB_START_TIMEOUT:-20}" "meshd $name up in $ns ($ifc up, API answers)" \
        _lab_meshd_ready "$name" "$ns" "$ifc"
}

# lab_meshd_status NAME: status JSON into $LAB_DIR/NAME.status.json (returns 1 if it fails)
lab_meshd_status() { lab_meshctl "$1" status --json > "$LAB_DIR/$1.status.json" 2>"$LAB_DIR/$1.status.err"; }

# lab_json FILE PYTHON_EXPR: evaluate EXPR with j = the parsed JSON, print the result
lab_json() {
    "$LAB_PY" - "$1" "$2" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
v = eval(sys.argv[2], {"j": j})
print("" if v is None else v)
EOF
}

# lab_meshd_peer_ok NAME PEER_PUB_FILE: status shows that peer with a handshake and rx/tx > 0
# (prints the peer's line; returns 1 otherwise)
lab_meshd_peer_ok() {
    lab_meshd_status "$1" || return 1
    "$LAB_PY" - "$LAB_DIR/$1.status.json" "$(cat "$2")" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
want = sys.argv[2].strip()
for p in j.get("peers", []):
    if p.get("publicKey") == want:
        hs, rx, tx = p.get("lastHandshakeSecondsAgo"), p.get("rxBytes", 0), p.get("txBytes", 0)
        print(f"endpoint={p.get('endpoint')} lastHandshakeSecondsAgo={hs} rxBytes={rx} txBytes={tx}")
        sys.exit(0 if (hs is not None and rx > 0 and tx > 0) else 1)
print("peer not in status: " + ", ".join(p.get("publicKey", "?") for p in j.get("peers", [])))
sys.exit(1)
EOF
}

# ---------------------------------------------------------------- wireguard-go
# lab_wg_start NAME NS IFACE: start wireguard-go in the foreground, wait for its UAPI socket.
# IFACE must be unique machine-wide (the UAPI dir is not namespaced): e.g. wg$$a
lab_wg_start() {
    local name=$1 ns=$2 ifc=$3
    LAB_WG_IFS+=("$ifc")
    rm -f "/var/run/wireguard/$ifc.sock"
    lab_start "$name" "$ns" env LOG_LEVEL="${LAB_WG_LOG_LEVEL:-verbose}" wireguard-go -f "$ifc"
    lab_wait_until 10 "wireguard-go $name ($ifc) UAPI socket" \
        test -S "/var/run/wireguard/$ifc.sock"
}

# lab_wg_latest_handshake NS IFACE: epoch of the newest handshake (0 if none)
lab_wg_latest_handshake() {
    lab_in "$1" wg show "$2" latest-handshakes 2>/dev/null | awk '{ if ($2 > m) m = $2 } END { print m + 0 }'
}
lab_wg_has_handshake() { [[ $(lab_wg_latest_handshake "$1" "$2") -gt 0 ]]; }

# ---------------------------------------------------------------- traffic
# lab_ping_ok NS DEST [COUNT]: COUNT (3) pings, all must be answered
lab_ping_ok() {
    local out
    out=$(lab_in "$1" ping -n -c "${3:-3}" -i 0.2 -W 2 "$2" 2>&1)
    local rc=$?
    echo "$out" | grep -E 'packets transmitted|rtt' | sed 's/^/      /'
    [[ $rc == 0 ]] && echo "$out" | grep -q " 0% packet loss"
}

# lab_tunnel_ping NS DEST DESCRIPTION: wait for a first answer (handshake), then 3/3 pings
lab_tunnel_ping() {
    lab_wait_until "${LAB_HANDSHAKE_TIMEOUT:-15}" "$3: first echo reply" lab_in "$1" ping -n -c 1 -W 1 "$2"
    lab_check "$3: 3/3 echo replies" lab_ping_ok "$1" "$2" 3
}

# lab_iperf_server NAME NS [PORT]: iperf3 -s daemonized inside NS, PID recorded
lab_iperf_server() {
    local name=$1 ns=$2 port=${3:-5201}
    local pidf=$LAB_DIR/$name.pid
    rm -f "$pidf"
    lab_in "$ns" iperf3 -s -p "$port" -D -I "$pidf" --logfile "$LAB_DIR/$name.log" \
        || lab_fail "iperf3 server $name did not start"
    lab_wait_until 10 "iperf3 server $name pidfile" test -s "$pidf"
    lab_adopt "$name" "$(tr -dc 0-9 < "$pidf")" "$LAB_DIR/$name.log"
    lab_wait_until 10 "iperf3 server $name listening on $port" lab_listening "$ns" tcp "$port"
}

# lab_iperf NS TARGET SECONDS [extra iperf3 args]: TCP test; sets LAB_MBPS, LAB_RETR, LAB_IPERF_JSON
lab_iperf() {
    local ns=$1 target=$2 secs=$3; shift 3
    LAB_IPERF_JSON=$LAB_DIR/iperf-$ns-$target-$EPOCHSECONDS-$RANDOM.json
    local rc=0
    lab_run --out "$LAB_IPERF_JSON" lab_in "$ns" timeout $((secs + 30)) iperf3 -c "$target" -t "$secs" -J "$@" || rc=$?
    local r
    r=$("$LAB_PY" - "$LAB_IPERF_JSON" <<'EOF'
import json, sys
try:
    j = json.load(open(sys.argv[1]))
    if "error" in j:
        print("nan -1 " + j["error"].replace(" ", "_")); sys.exit()
    e = j["end"]
    print(f'{e["sum_received"]["bits_per_second"] / 1e6:.1f} {e["sum_sent"].get("retransmits", -1)} ok')
except Exception as ex:
    print(f"nan -1 unparsable:{type(ex).__name__}")
EOF
)
    read -r LAB_MBPS LAB_RETR LAB_IPERF_ERR <<< "$r"
    [[ $rc == 0 && $LAB_IPERF_ERR == ok ]] || { LAB_IPERF_ERR="rc=$rc $LAB_IPERF_ERR"; return 1; }
}

# lab_iperf_check NS TARGET SECONDS DESCRIPTION [extra args]: require > 0 bit/s, report Mbit/s
lab_iperf_check() {
    local ns=$1 target=$2 secs=$3 desc=$4; shift 4
    if ! lab_iperf "$ns" "$target" "$secs" "$@"; then
        tail -n 20 "$LAB_IPERF_JSON" "$LAB_IPERF_JSON.err" >&2
        lab_fail "$desc: iperf3 failed ($LAB_IPERF_ERR)"
    fi
    awk -v m="$LAB_MBPS" 'BEGIN{exit !(m > 0)}' || lab_fail "$desc: iperf3 measured $LAB_MBPS Mbit/s"
    lab_pass "$desc: iperf3 TCP ${secs}s: $LAB_MBPS Mbit/s (retransmits $LAB_RETR)"
}

# ---------------------------------------------------------------- generic tunnel node
declare -A LAB_IF=()      # node name -> tunnel interface
declare -A LAB_IMPL=()    # node name -> meshd | wireguard-go
LAB_WG_N=0

# lab_node_up IMPL NAME NS ADDRESS/CIDR LISTEN_PORT MTU KEY_PREFIX PEER_PUB_FILE PEER_ALLOWED_IPS [ENDPOINT [KEEPALIVE]]
# One tunnel end: IMPL is meshd (config file) or wireguard-go (wg set). KEY_PREFIX.key must exist.
# Returns once the interface is up (and, for meshd, its API answers).
lab_node_up() {
    local impl=$1 name=$2 ns=$3 addr=$4 port=$5 mtu=$6 key=$7 peer=$8 allowed=$9 ep=${10:-} ka=${11:-}
    LAB_IMPL[$name]=$impl
    case $impl in
        meshd)
            lab_meshd_conf "$LAB_DIR/$name.conf" "$key.key" "$addr" "$port" "$mtu" "$peer" "$allowed" "$ep" "$ka"
            LAB_IF[$name]=mesh0
            lab_meshd_start "$name" "$ns" "$LAB_DIR/$name.conf" mesh0
            ;;
        wireguard-go)
            LAB_WG_N=$((LAB_WG_N + 1))
            local ifc=wg$$x$LAB_WG_N
            LAB_IF[$name]=$ifc
            lab_wg_start "$name" "$ns" "$ifc"
            local extra=()
            [[ -n $ep ]] && extra+=(endpoint "$ep")
            [[ -n $ka ]] && extra+=(persistent-keepalive "$ka")
            lab_in "$ns" wg set "$ifc" listen-port "$port" private-key "$key.key" \
                peer "$(cat "$peer")" allowed-ips "$allowed" "${extra[@]}" || lab_fail "wg set $ifc failed"
            lab_in "$ns" ip addr add "$addr" dev "$ifc"
            lab_in "$ns" ip link set "$ifc" mtu "$mtu" up
            ;;
        *) lab_fail "lab_node_up: unknown implementation '$impl'" ;;
    esac
}

# lab_node_down NAME
lab_node_down() {
    local name=$1
    lab_stop "$name"
    if [[ ${LAB_IMPL[$name]:-} == wireguard-go ]]; then
        lab_poll 5 test ! -e "/var/run/wireguard/${LAB_IF[$name]}.sock" \
            || rm -f "/var/run/wireguard/${LAB_IF[$name]}.sock"
    fi
}

# lab_node_genkey IMPL PREFIX: keys with the implementation's own tool
lab_node_genkey() { if [[ $1 == meshd ]]; then lab_genkey meshd "$2"; else lab_genkey wg "$2"; fi; }

# lab_node_peer_ok NAME NS PEER_PUB_FILE: the node reports a handshake with that peer
# (meshd: meshctl status --json with rx/tx > 0; wireguard-go: wg show latest-handshakes)
lab_node_peer_ok() {
    local name=$1 ns=$2 peer=$3
    if [[ ${LAB_IMPL[$name]} == meshd ]]; then
        lab_meshd_peer_ok "$name" "$peer"
    else
        local hs; hs=$(lab_in "$ns" wg show "${LAB_IF[$name]}" latest-handshakes | awk -v k="$(cat "$peer")" '$1 == k {print $2}')
        local tr; tr=$(lab_in "$ns" wg show "${LAB_IF[$name]}" transfer | awk -v k="$(cat "$peer")" '$1 == k {print "rxBytes=" $2 " txBytes=" $3}')
        echo "latest-handshake=${hs:-none} $tr"
        [[ ${hs:-0} -gt 0 ]]
    fi
}
