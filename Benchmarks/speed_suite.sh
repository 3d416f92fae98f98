#!/usr/bin/env bash
# speed_suite.sh - issue 12's speed suite: meshd against the current wireguard-go, Debian's
# wireguard-go and nebula on the same machine, in the same run, interleaved.
#
#   ns a: veth0 10.77.0.1/24, overlay 10.100.0.1/24      ns b: veth0 10.77.0.2/24, overlay 10.100.0.2/24
#
# The topology of throughput.sh: two namespaces on one veth, tunnel MTU MTU (1420). For each of
# REPS repetitions, every tunnel of IMPLS in turn gets a fresh pair of daemons and, a -> b:
#   - ping latency first, before any load: ping -c 200 -i 0.01 (the average);
#   - iperf3 TCP, 1 stream and 4 streams (-P 4), DURATION s each;
#   - iperf3 UDP at fixed offered rates, 500 Mbit/s and 1 Gbit/s (-u -b, datagrams of MTU-48
#     bytes, 1372: no fragmentation even for IPv6), the loss the receiver counted;
#   - the CPU seconds (utime+stime, /proc/PID/stat) both daemons used during each throughput
#     test, and the daemons' peak RSS (VmHWM, /proc/PID/status) over the repetition, the larger
#     of the two ends.
# Tunnels (IMPLS, default all of them, skipped with a note when missing):
#   meshd                 standalone mode, config file (MESH_BIN: the release build)
#   wireguard-go-current  WG_CURRENT, default ../shared/tools/wireguard-go-0.0.20250522
#   wireguard-go-debian   `wireguard-go` in PATH (Debian's package)
#   nebula                Debian's nebula: a CA and two host certificates made here, static
#                         host map over the veth, no lighthouse, firewall allowing everything
#   mesh                  meshd in mesh mode: meshcoord in ns b on 10.77.0.2:8080, both nodes
#                         joined, the direct path over the same veth (waited for); ping, TCP 1
#                         and 4 streams, at the same tunnel MTU (`meshd up --mtu MTU`; mesh
#                         mode's default is 1280). Should the interface show another MTU, a
#                         standalone meshd pair at that MTU runs right after it, so that
#                         mesh / standalone still compares like with like.
#   meshd-100peers        standalone meshd whose config (end a) lists 100 peers: the real one
#                         and 99 with made-up keys and endpoints in 203.0.113.0/24 and
#                         198.51.100.0/24 (ns a has no route there: nothing leaves); TCP 1
#                         stream to the real peer and the peak RSS of end a.
# Prints a markdown table of medians (min-max) per tunnel, the ratios meshd / wireguard-go
# current, mesh mode / standalone, and issue 12's "Done means" figures; the report, every run,
# the raw iperf3 JSON and the ping output go to Benchmarks/results/speed-suite-STAMP/.
#
#   Benchmarks/speed_suite.sh                                 (as root; ~12 min with the defaults)
#   DURATION=10 REPS=3 MTU=1420 IMPLS="meshd wireguard-go-current" Benchmarks/speed_suite.sh
#   QUICK=1 Benchmarks/speed_suite.sh                         (DURATION=3 REPS=1: a 1.5 min smoke run)
#   On a shared machine: flock /tmp/lab.lock Benchmarks/speed_suite.sh
# Run time: 21 iperf3 tests of DURATION s per repetition (4 for each of the four tunnels, 2 for
# mesh mode, 2 for standalone at its MTU, 1 with 100 peers) plus ~70 s of setup and pings: the
# defaults (3 repetitions of 10 s) take about 12 minutes.
# Needs what Packaging/install-deps.sh installs (iperf3, wireguard-go, wireguard-tools, nebula).
# Note: the daemons and both iperf3 ends share this machine's cores (a "both peers on one box"
# figure); the load average at the start and the end goes into the report.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
LAB_NAME=speed_suite
source "$HERE/../Tests/Integration/lab.sh"
# Mesh mode reuses meshlab's node pieces (join, status, path) with the coordinator named by its
# address on the veth (no NAT lab, no DNS, no TLS proxy here).
MESHLAB_NAMING=literal
source "$HERE/../Tests/Integration/meshlab.sh"
MESHLAB_COORD=10.77.0.2

if [[ ${QUICK:-0} == 1 ]]; then DURATION=${DURATION:-3}; REPS=${REPS:-1}; fi
DURATION=${DURATION:-10}
REPS=${REPS:-3}
MTU=${MTU:-1420}
IMPLS=${IMPLS:-meshd wireguard-go-current wireguard-go-debian nebula mesh meshd-100peers}
WG_CURRENT=${WG_CURRENT:-$LAB_REPO/../shared/tools/wireguard-go-0.0.20250522}
UDP_LEN=$((MTU - 48))
PING_COUNT=200
LAB_WG_LOG_LEVEL=error
CLK=$(getconf CLK_TCK)
RESULTS_DIR=${RESULTS_DIR:-$HERE/results}
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=$RESULTS_DIR/speed-suite-$STAMP
mkdir -p "$OUT"
TSV=$OUT/runs.tsv
META=$OUT/meta.tsv
: > "$TSV"
: > "$META"
meta() { printf '%s\t%s\n' "$1" "$2" >> "$META"; }

# ---------------------------------------------------------------- what can run here
declare -A LABEL=()
want=()
for impl in $IMPLS; do
    case $impl in
        meshd | mesh | meshd-100peers)
            lab_mesh_bin
            if [[ $impl == mesh && ! -x $MESH_BIN/meshcoord ]]; then
                lab_info "NOTE: no meshcoord in $MESH_BIN: mesh mode skipped"; continue
            fi
            src=$(git -C "$LAB_REPO" rev-parse --short HEAD 2>/dev/null || echo "?")
            [[ -n $(git -C "$LAB_REPO" status --porcelain -- Sources Package.swift 2>/dev/null) ]] && src+="+uncommitted"
            case $impl in
                meshd) LABEL[$impl]="meshd ($src)" ;;
                mesh) LABEL[$impl]="meshd mesh mode, direct path" ;;
                meshd-100peers) LABEL[$impl]="meshd, 100 peers configured" ;;
            esac ;;
        wireguard-go-current)
            if [[ ! -x $WG_CURRENT ]]; then
                lab_info "NOTE: no current wireguard-go at $WG_CURRENT (see ../shared/tools/README.md): skipped"; continue
            fi
            mkdir -p "$LAB_DIR/bin-wg-current"
            ln -sf "$(realpath "$WG_CURRENT")" "$LAB_DIR/bin-wg-current/wireguard-go"
            LABEL[$impl]="wireguard-go $("$WG_CURRENT" --version | awk 'NR==1{print $2}')" ;;
        wireguard-go-debian)
            if ! command -v wireguard-go >/dev/null; then
                lab_info "NOTE: no wireguard-go in PATH (Packaging/install-deps.sh installs it): skipped"; continue
            fi
            mkdir -p "$LAB_DIR/bin-wg-debian"
            ln -sf "$(command -v wireguard-go)" "$LAB_DIR/bin-wg-debian/wireguard-go"
            LABEL[$impl]="Debian wireguard-go $(wireguard-go --version | awk 'NR==1{print $2}')" ;;
        nebula)
            if ! command -v nebula >/dev/null || ! command -v nebula-cert >/dev/null; then
                lab_info "NOTE: nebula is not installed (Packaging/install-deps.sh installs it): skipped"; continue
            fi
            LABEL[$impl]="nebula $(nebula -version | awk '{print $2}')" ;;
        *) lab_fail "IMPLS: unknown tunnel '$impl' (meshd wireguard-go-current wireguard-go-debian nebula mesh meshd-100peers)" ;;
    esac
    want+=("$impl")
done
[[ ${#want[@]} -gt 0 ]] || lab_fail "nothing to measure (IMPLS='$IMPLS')"
if [[ " ${want[*]} " == *" wireguard-go"* ]]; then
    command -v wg >/dev/null || lab_fail "wg is missing (Packaging/install-deps.sh installs wireguard-tools)"
fi
command -v iperf3 >/dev/null || lab_fail "iperf3 is missing (Packaging/install-deps.sh installs it)"

# ---------------------------------------------------------------- topology
lab_ns_add a b
lab_veth a veth0 10.77.0.1/24 b veth0 10.77.0.2/24
lab_iperf_server iperf b

# ---------------------------------------------------------------- measuring
# record REP IMPL METRIC VALUE [CPU_S WALL_S NOTE]
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-}" "${6:-}" "${7:-}" >> "$TSV"; }

hwm_mib() { # PID: peak resident set size in MiB ("nan" once the process is gone)
    [[ -n $1 && -r /proc/$1/status ]] || { echo nan; return 0; }
    awk '/^VmHWM:/ { printf "%.1f", $2 / 1024; found = 1 } END { if (!found) print "nan" }' "/proc/$1/status" 2>/dev/null || echo nan
}

# suite_wait SECONDS DESCRIPTION command...: lab_wait_until, except that a tunnel that does not
# come up is reported and skipped for this repetition instead of ending the whole run.
suite_wait() {
    local secs=$1 desc=$2; shift 2
    local t0=$EPOCHREALTIME
    if lab_poll "$secs" "$@"; then
        lab_pass "$desc (after $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')s)"
        return 0
    fi
    lab_warn "timed out after ${secs}s waiting for: $desc"
    return 1
}

# measure_ping REP IMPL TARGET: PING_COUNT pings 10 ms apart from a, before any load
measure_ping() {
    local rep=$1 impl=$2 target=$3 f=$OUT/ping-$impl-$rep.txt
    lab_run --out "$f" lab_in a ping -n -q -c "$PING_COUNT" -i 0.01 -W 1 "$target" || true
    local avg loss
    avg=$(sed -n 's|^rtt [^=]*= [0-9.]*/\([0-9.]*\)/.*|\1|p' "$f")
    loss=$(sed -n 's|.* \([0-9.]*\)% packet loss.*|\1|p' "$f")
    record "$rep" "$impl" ping "${avg:-nan}" "" "" "${loss:-nan}"
    lab_info "$impl run $rep: ping avg ${avg:-?} ms, loss ${loss:-?} %"
}

# measure_iperf REP IMPL METRIC TARGET PID_A PID_B iperf3-args...: one throughput test and the
# CPU both daemons used during it; UDP: the value is the receiver's loss in %
measure_iperf() {
    local rep=$1 impl=$2 metric=$3 target=$4 pa=$5 pb=$6; shift 6
    local c0 c1 t0 t1 cpu wall ok=1
    c0=$(lab_cpu_ticks "$pa" "$pb"); t0=$EPOCHREALTIME
    lab_iperf a "$target" "$DURATION" "$@" || ok=0
    c1=$(lab_cpu_ticks "$pa" "$pb"); t1=$EPOCHREALTIME
    cp "$LAB_IPERF_JSON" "$OUT/iperf-$impl-$rep-$metric.json"
    cpu=$(awk -v d="$((c1 - c0))" -v k="$CLK" 'BEGIN{printf "%.2f", d/k}')
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
    if [[ $ok == 0 ]]; then
        lab_warn "$impl run $rep: $metric: iperf3 failed ($LAB_IPERF_ERR)"
        tail -n 3 "$LAB_IPERF_JSON.err" >&2 || true
        record "$rep" "$impl" "$metric" nan "$cpu" "$wall" "iperf3 failed"
        return 0
    fi
    if [[ $metric == udp* ]]; then
        local loss
        loss=$("$LAB_PY" -c 'import json,sys; e=json.load(open(sys.argv[1]))["end"]; print("%.3f" % e.get("sum_received", e["sum"])["lost_percent"])' "$LAB_IPERF_JSON")
        record "$rep" "$impl" "$metric" "$loss" "$cpu" "$wall" "$LAB_MBPS"
        lab_pass "$impl run $rep: $metric: loss $loss %, received $LAB_MBPS Mbit/s, daemons CPU ${cpu}s in ${wall}s"
    else
        record "$rep" "$impl" "$metric" "$LAB_MBPS" "$cpu" "$wall" "$LAB_RETR"
        lab_pass "$impl run $rep: $metric: $LAB_MBPS Mbit/s, retransmits $LAB_RETR, daemons CPU ${cpu}s in ${wall}s"
    fi
}

# measure_rss REP IMPL PID...: the larger VmHWM of the ends (note: each end's)
measure_rss() {
    local rep=$1 impl=$2; shift 2
    local p v all="" max=nan
    for p in "$@"; do
        v=$(hwm_mib "$p"); all+="${all:+/}$v"
        max=$(awk -v m="$max" -v v="$v" 'BEGIN{ if (v == "nan") print m; else if (m == "nan" || v + 0 > m + 0) print v; else print m }')
    done
    record "$rep" "$impl" rss "$max" "" "" "$all"
    lab_info "$impl run $rep: peak RSS $all MiB"
}

# ---------------------------------------------------------------- tunnel pairs
# Each *_up sets NA NB (lab names), PA PB (PIDs) and TARGET (b's overlay address), or returns 1.

# The standalone meshd keeps its UAPI socket in the lab's directory, not /var/run/wireguard.
meshd_node_up() { # NAME NS ADDR MTU PEER_PUB ALLOWED [ENDPOINT]
    LAB_MESHD_ARGS="--wireguard-socket-dir $LAB_DIR/uapi-$1" \
        lab_node_up meshd "$1" "$2" "$3" 51820 "$4" "$LAB_DIR/$1" "$5" "$6" "${7:-}"
}

standalone_up() { # REP IMPL MTU
    local rep=$1 impl=$2 mtu=$3
    NA=a-$impl-$rep NB=b-$impl-$rep TARGET=10.100.0.2
    local kind=meshd
    [[ $impl == wireguard-go-* ]] && kind=wireguard-go
    lab_node_genkey "$kind" "$LAB_DIR/$NA"
    lab_node_genkey "$kind" "$LAB_DIR/$NB"
    case $impl in
        meshd | meshd-mtu*)
            meshd_node_up "$NB" b 10.100.0.2/24 "$mtu" "$LAB_DIR/$NA.pub" 10.100.0.1/32
            meshd_node_up "$NA" a 10.100.0.1/24 "$mtu" "$LAB_DIR/$NB.pub" 10.100.0.2/32 10.77.0.2:51820 ;;
        meshd-100peers)
            meshd_node_up "$NB" b 10.100.0.2/24 "$mtu" "$LAB_DIR/$NA.pub" 10.100.0.1/32
            lab_meshd_conf "$LAB_DIR/$NA.conf" "$LAB_DIR/$NA.key" 10.100.0.1/24 51820 "$mtu" "$LAB_DIR/$NB.pub" \
                10.100.0.2/32 10.77.0.2:51820
            cat "$LAB_DIR/unreachable-peers.conf" >> "$LAB_DIR/$NA.conf"
            lab_check "$NA's config lists 100 peers" test "$(grep -c '^\[Peer\]' "$LAB_DIR/$NA.conf")" -eq 100
            LAB_MESHD_ARGS="--wireguard-socket-dir $LAB_DIR/uapi-$NA" lab_meshd_start "$NA" a "$LAB_DIR/$NA.conf" mesh0 ;;
        wireguard-go-current | wireguard-go-debian)
            local bin=$LAB_DIR/bin-wg-${impl#wireguard-go-}
            PATH=$bin:$PATH lab_node_up wireguard-go "$NB" b 10.100.0.2/24 51820 "$mtu" "$LAB_DIR/$NB" "$LAB_DIR/$NA.pub" 10.100.0.1/32
            PATH=$bin:$PATH lab_node_up wireguard-go "$NA" a 10.100.0.1/24 51820 "$mtu" "$LAB_DIR/$NA" "$LAB_DIR/$NB.pub" 10.100.0.2/32 10.77.0.2:51820 ;;
    esac
    PA=$(lab_pid "$NA"); PB=$(lab_pid "$NB")
    suite_wait 15 "$impl run $rep: tunnel answers" lab_in a ping -n -c 1 -W 1 "$TARGET"
}

nebula_ca() { # a CA and a certificate for each end, in the lab's directory
    local d=$LAB_DIR/nebula
    mkdir -p "$d"
    (
        umask 077
        nebula-cert ca -name "speed suite lab" -duration 24h -out-crt "$d/ca.crt" -out-key "$d/ca.key" &&
        nebula-cert sign -ca-crt "$d/ca.crt" -ca-key "$d/ca.key" -name a -ip 10.100.0.1/24 -out-crt "$d/a.crt" -out-key "$d/a.key" &&
        nebula-cert sign -ca-crt "$d/ca.crt" -ca-key "$d/ca.key" -name b -ip 10.100.0.2/24 -out-crt "$d/b.crt" -out-key "$d/b.key"
    ) >/dev/null || lab_fail "nebula-cert: lab CA and host certificates"
}

nebula_node_up() { # NAME NS END(a|b) PEER_OVERLAY PEER_UNDERLAY
    local name=$1 ns=$2 end=$3 d=$LAB_DIR/nebula
    cat > "$d/$name.yml" <<EOF
pki:
  ca: $d/ca.crt
  cert: $d/$end.crt
  key: $d/$end.key
static_host_map:
  "$4": ["$5:4242"]
lighthouse:
  am_lighthouse: false
  hosts: []
listen:
  host: 0.0.0.0
  port: 4242
punchy:
  punch: false
tun:
  disabled: false
  dev: nebula1
  mtu: $MTU
logging:
  level: warning
firewall:
  outbound:
    - port: any
      proto: any
      host: any
  inbound:
    - port: any
      proto: any
      host: any
EOF
    lab_start "$name" "$ns" nebula -config "$d/$name.yml"
    suite_wait 10 "nebula $name: nebula1 up in $ns" lab_link_up "$ns" nebula1
}

nebula_up() { # REP
    NA=a-nebula-$1 NB=b-nebula-$1 TARGET=10.100.0.2
    nebula_node_up "$NB" b b 10.100.0.1 10.77.0.1 || return 1
    nebula_node_up "$NA" a a 10.100.0.2 10.77.0.2 || return 1
    PA=$(lab_pid "$NA"); PB=$(lab_pid "$NB")
    suite_wait 15 "nebula run $1: tunnel answers" lab_in a ping -n -c 1 -W 1 "$TARGET"
}

# Mesh mode: the coordinator once (ns b), the two nodes fresh for each repetition on the same
# state directories (registered once), interface mesh1, so the direct path is over veth0.
mesh_coord() {
    lab_start coord b "$MESH_BIN/meshcoord" serve --state-dir "$LAB_DIR/coord" --listen "$MESHLAB_COORD:8080" \
        --stun-ports 3478,3479 --public-url "$(meshlab_coord_url)"
    lab_wait_until 20 "meshcoord listening on $MESHLAB_COORD:8080" lab_listening b tcp 8080
    lab_wait_until 10 "meshcoord admin socket answers" lab_q "$MESH_BIN/meshcoord" authkey list --state-dir "$LAB_DIR/coord"
    MESHLAB_TOKEN=$("$MESH_BIN/meshcoord" authkey create --reusable --state-dir "$LAB_DIR/coord" 2>/dev/null)
    [[ $MESHLAB_TOKEN == mesh1_* ]] || lab_fail "authkey create gave no token"
}
mesh_node_is_up() { lab_alive "$1" && meshlab_status_has "$1" "j.get('control') == 'connected'"; }
mesh_up() { # REP
    NA=a NB=b
    local n
    for n in a b; do
        _meshlab_node_launch "$n" "$n" --interface mesh1 --wireguard-socket-dir "$LAB_DIR/uapi-mesh-$n" --log-level warning --mtu "$MTU"
        suite_wait 20 "mesh run $1: meshd $n joined" mesh_node_is_up "$n" || return 1
    done
    PA=$(lab_pid a); PB=$(lab_pid b)
    suite_wait 10 "mesh run $1: a sees b in its netmap" meshlab_status_has a "[p for p in j['peers'] if p.get('name') == 'b']" || return 1
    MESHLAB_B4=$(meshlab_field b "j['ipv4']")
    TARGET=$MESHLAB_B4
    suite_wait 15 "mesh run $1: first ping a -> b ($TARGET)" lab_in a ping -n -c 1 -W 1 "$TARGET" || return 1
    suite_wait 15 "mesh run $1: a's path to b is direct" meshlab_path_is a b direct || return 1
    lab_info "mesh run $1: a's path to b: $(meshlab_peer_field a b "p.get('path')")"
    MESH_MTU=$(lab_in a cat /sys/class/net/mesh1/mtu)
}

pair_down() {
    local n
    for n in "$NA" "$NB"; do
        [[ -n $(lab_pid "$n") ]] || continue
        lab_alive "$n" || lab_warn "$n (pid $(lab_pid "$n")) had exited: $(tail -n 3 "$(lab_logfile "$n")" | tr '\n' ' ')"
        if [[ ${LAB_IMPL[$n]:-} == wireguard-go ]]; then lab_node_down "$n"; else lab_stop "$n"; fi
    done
}

# ---------------------------------------------------------------- one tunnel, one repetition
# the full set: ping before load, TCP 1 and 4 streams, UDP at 500 Mbit/s and 1 Gbit/s, RSS
full_set() { # REP IMPL
    measure_ping "$1" "$2" "$TARGET"
    measure_iperf "$1" "$2" tcp1 "$TARGET" "$PA" "$PB"
    measure_iperf "$1" "$2" tcp4 "$TARGET" "$PA" "$PB" -P 4
    measure_iperf "$1" "$2" udp500 "$TARGET" "$PA" "$PB" -u -b 500M -l "$UDP_LEN"
    measure_iperf "$1" "$2" udp1g "$TARGET" "$PA" "$PB" -u -b 1G -l "$UDP_LEN"
    measure_rss "$1" "$2" "$PA" "$PB"
}
tcp_set() { # REP IMPL: ping, TCP 1 and 4 streams, RSS
    measure_ping "$1" "$2" "$TARGET"
    measure_iperf "$1" "$2" tcp1 "$TARGET" "$PA" "$PB"
    measure_iperf "$1" "$2" tcp4 "$TARGET" "$PA" "$PB" -P 4
    measure_rss "$1" "$2" "$PA" "$PB"
}

run_one() { # REP IMPL
    local rep=$1 impl=$2 up=0
    lab_info "--- run $rep: ${LABEL[$impl]}"
    case $impl in
        meshd | wireguard-go-*)
            standalone_up "$rep" "$impl" "$MTU" && up=1
            [[ $up == 1 ]] && full_set "$rep" "$impl" ;;
        nebula)
            nebula_up "$rep" && up=1
            [[ $up == 1 ]] && full_set "$rep" "$impl" ;;
        meshd-100peers)
            standalone_up "$rep" "$impl" "$MTU" && up=1
            if [[ $up == 1 ]]; then
                measure_iperf "$rep" "$impl" tcp1 "$TARGET" "$PA" "$PB"
                measure_rss "$rep" "$impl" "$PA"    # the end with 100 peers
            fi ;;
        mesh)
            mesh_up "$rep" && up=1
            [[ $up == 1 ]] && tcp_set "$rep" mesh
            [[ $up == 0 ]] && { lab_warn "mesh run $rep: not up, skipped"; record "$rep" mesh up 0; }
            pair_down
            # Like with like: a standalone pair at mesh mode's MTU, right after it.
            if [[ -n ${MESH_MTU:-} && $MESH_MTU != "$MTU" ]]; then
                local same=meshd-mtu$MESH_MTU
                LABEL[$same]="meshd standalone, MTU $MESH_MTU"
                lab_info "--- run $rep: ${LABEL[$same]} (mesh mode's MTU)"
                if standalone_up "$rep" "$same" "$MESH_MTU"; then tcp_set "$rep" "$same"; else record "$rep" "$same" up 0; fi
                pair_down
            fi
            return 0 ;;
    esac
    [[ $up == 1 ]] || { lab_warn "$impl run $rep: the tunnel did not come up: skipped (logs above/in $LAB_DIR)"; record "$rep" "$impl" up 0
        local n; for n in "$NA" "$NB"; do [[ -n $(lab_pid "$n") ]] && tail -n 5 "$(lab_logfile "$n")" >&2; done; }
    pair_down
}

# ---------------------------------------------------------------- the run
[[ " ${want[*]} " == *" nebula "* ]] && nebula_ca
[[ " ${want[*]} " == *" mesh "* ]] && mesh_coord
if [[ " ${want[*]} " == *" meshd-100peers "* ]]; then
    # 99 peers that are only configured: random public keys, endpoints in the documentation
    # ranges (unroutable from ns a), one /32 each outside the tested overlay address.
    "$LAB_PY" - > "$LAB_DIR/unreachable-peers.conf" <<'PY'
import base64, os
for i in range(1, 100):
    net = "203.0.113" if i <= 50 else "198.51.100"
    print(f"\n[Peer]\nPublicKey = {base64.b64encode(os.urandom(32)).decode()}\n"
          f"AllowedIPs = 10.101.0.{i}/32\nEndpoint = {net}.{i}:51820")
PY
fi

meta kernel "$(uname -r)"; meta ncpu "$(nproc)"; meta load_start "$(cut -d' ' -f1-3 /proc/loadavg)"
meta duration "$DURATION"; meta reps "$REPS"; meta mtu "$MTU"; meta udp_len "$UDP_LEN"; meta ping_count "$PING_COUNT"
meta impls "${want[*]}"; meta mesh_bin "${MESH_BIN:-}"; meta stamp "$STAMP"
# The tree's commit in meshd's label is HEAD now; the binary may be older or built from more.
[[ -n ${MESH_BIN:-} ]] && meta mesh_built "$(date -u -r "$MESH_BIN/meshd" '+%Y-%m-%d %H:%M UTC')"
lab_info "speed suite: ${want[*]}; REPS=$REPS DURATION=${DURATION}s MTU=$MTU UDP datagrams ${UDP_LEN} B; load $(cut -d' ' -f1-3 /proc/loadavg)"
for rep in $(seq 1 "$REPS"); do
    for impl in "${want[@]}"; do run_one "$rep" "$impl"; done
done
meta load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
for impl in "${!LABEL[@]}"; do meta "label:$impl" "${LABEL[$impl]}"; done

"$LAB_PY" - "$TSV" "$META" > "$OUT/report.md" <<'PY'
import statistics, sys, math
tsv, metaf = sys.argv[1:]
rows = [l.rstrip("\n").split("\t") for l in open(tsv) if l.strip()]
meta = dict(l.rstrip("\n").split("\t", 1) for l in open(metaf) if l.strip())
impls = meta["impls"].split()
order = []
for i in impls:
    order.append(i)
    if i == "mesh":
        order += sorted({r[1] for r in rows if r[1].startswith("meshd-mtu")})
label = lambda i: meta.get("label:" + i, i)

def vals(impl, metric, col=3):
    out = []
    for r in rows:
        if r[1] == impl and r[2] == metric:
            try:
                v = float(r[col])
            except ValueError:
                continue
            if not math.isnan(v):
                out.append(v)
    return out
def med(impl, metric, col=3):
    v = vals(impl, metric, col)
    return statistics.median(v) if v else None
def fmt(v, nd):
    if v is None: return "—"
    return f"{v:,.{nd}f}"
def cell(impl, metric, nd, unit="", col=3):
    v = vals(impl, metric, col)
    if not v: return "—"
    m = statistics.median(v)
    s = f"**{fmt(m, nd)}**{unit}"
    if len(v) > 1: s += f" ({fmt(min(v), nd)}–{fmt(max(v), nd)})"
    return s
def ratio(a, b):
    if a is None or b is None or b == 0: return "—"
    return f"{a / b:.2f}×"

cols = [("TCP 1 stream, Mbit/s", "tcp1", 0, "", 3), ("TCP 4 streams, Mbit/s", "tcp4", 0, "", 3),
        ("UDP 500 Mbit/s offered: loss %", "udp500", 2, "", 3), ("UDP 1 Gbit/s offered: loss %", "udp1g", 1, "", 3),
        (f"ping avg ms ({meta['ping_count']} × 10 ms, before load)", "ping", 3, "", 3),
        ("daemons CPU s during TCP 1 stream", "tcp1", 1, "", 4), ("peak RSS MiB (larger end)", "rss", 1, "", 3)]
print(f"## Speed suite {meta['stamp']}: tunnel MTU {meta['mtu']}, {meta['reps']} runs each (interleaved), iperf3 {meta['duration']} s per test, a → b")
print()
print(f"kernel {meta['kernel']}, {meta['ncpu']} CPUs shared by both daemons and both iperf3 ends; load average at the start {meta['load_start']}, at the end {meta['load_end']}. "
      f"UDP datagrams {meta['udp_len']} bytes. Medians, (min–max) over the runs; — is not measured or failed."
      + (f" meshd: {meta['mesh_bin']}/meshd, built {meta['mesh_built']}." if meta.get("mesh_built") else ""))
print()
print("| tunnel | " + " | ".join(c[0] for c in cols) + " |")
print("|---" * (len(cols) + 1) + "|")
for i in order:
    print(f"| {label(i)} | " + " | ".join(cell(i, m, nd, u, col) for _, m, nd, u, col in cols) + " |")
wg = "wireguard-go-current"
if "meshd" in impls and wg in impls:
    print(f"| **ratio meshd / {label(wg)}** | " + " | ".join(ratio(med("meshd", m, col), med(wg, m, col)) for _, m, nd, u, col in cols) + " |")
    print()
    print("(Ratios of medians: above 1 is better for throughput; below 1 is better for loss, ping, CPU and RSS.)")
print()
if "meshd-100peers" in impls:
    r = vals("meshd-100peers", "rss")
    print(f"meshd with 100 peers configured (99 never answer), carrying TCP 1 stream to the real one: "
          f"{cell('meshd-100peers', 'tcp1', 0)} Mbit/s, peak RSS (VmHWM) of that meshd **{fmt(max(r) if r else None, 1)} MiB** at most "
          f"(median {fmt(statistics.median(r) if r else None, 1)}).")
    print()
same = next((i for i in order if i.startswith("meshd-mtu")), None)
if "mesh" in impls:
    ref = same or "meshd"
    t1, t4 = med("mesh", "tcp1"), med("mesh", "tcp4")
    print(f"Mesh mode on the direct path / standalone meshd ({label(ref)}, same veth, same run): "
          f"TCP 1 stream **{ratio(t1, med(ref, 'tcp1'))}**, TCP 4 streams **{ratio(t4, med(ref, 'tcp4'))}**"
          + (f"; against standalone at MTU {meta['mtu']}: {ratio(t1, med('meshd', 'tcp1'))} and {ratio(t4, med('meshd', 'tcp4'))}" if same and "meshd" in impls else "") + ".")
    print()

# The CPU of every test
print("Daemons' CPU seconds during each test (both ends, median), and what TCP 1 stream carried per CPU second of the daemons:")
print()
print("| tunnel | TCP 1 | TCP 4 | UDP 500M | UDP 1G | TCP 1: Mbit per CPU s |")
print("|---|---|---|---|---|---|")
for i in order:
    c = [med(i, m, 4) for m in ("tcp1", "tcp4", "udp500", "udp1g")]
    eff = [float(r[3]) * float(meta["duration"]) / float(r[4]) for r in rows if r[1] == i and r[2] == "tcp1" and r[3] != "nan" and r[4] and float(r[4]) > 0]
    print(f"| {label(i)} | " + " | ".join(fmt(x, 1) for x in c) + f" | {fmt(statistics.median(eff) if eff else None, 0)} |")
print()

if "meshd" in impls and wg in impls:
    def chk(ok, text):
        return f"- [{'x' if ok else ' '}] {text}"
    m1, w1, m4, w4 = med("meshd", "tcp1"), med(wg, "tcp1"), med("meshd", "tcp4"), med(wg, "tcp4")
    mp, wp = med("meshd", "ping"), med(wg, "ping")
    l5, l1, wl1 = med("meshd", "udp500"), med("meshd", "udp1g"), med(wg, "udp1g")
    rss = vals("meshd", "rss"); rss100 = vals("meshd-100peers", "rss")
    ok = lambda *xs: all(x is not None for x in xs)
    print("Issue 12, Done means (this run):")
    print()
    print(chk(ok(m1, w1) and m1 >= 1.2 * w1, f"TCP 1 stream ≥ 1.2× wireguard-go: {ratio(m1, w1)}"))
    print(chk(ok(m4, w4) and m4 >= 1.2 * w4, f"TCP 4 streams ≥ 1.2× wireguard-go: {ratio(m4, w4)}"))
    print(chk(ok(mp, wp) and mp <= wp, f"median ping no worse than wireguard-go's: {fmt(mp, 3)} ms vs {fmt(wp, 3)} ms"))
    print(chk(ok(l5) and l5 < 1, f"UDP 500 Mbit/s loss under 1 %: {fmt(l5, 2)} %"))
    print(chk(ok(l1, wl1) and l1 <= wl1 / 2, f"UDP 1 Gbit/s loss at most half of wireguard-go's: {fmt(l1, 1)} % vs {fmt(wl1, 1)} %"))
    print(chk(bool(rss) and max(rss) < 40, f"meshd peak RSS under 40 MiB during the throughput runs: {fmt(max(rss) if rss else None, 1)} MiB (largest)"))
    if "meshd-100peers" in impls:
        print(chk(bool(rss100) and max(rss100) < 40, f"… and with 100 peers configured: {fmt(max(rss100) if rss100 else None, 1)} MiB (largest)"))
    if "mesh" in impls:
        ref = same or "meshd"
        t1, s1 = med("mesh", "tcp1"), med(ref, "tcp1")
        print(chk(ok(t1, s1) and t1 >= 0.95 * s1, f"mesh mode on a direct path ≥ 95 % of standalone (TCP 1 stream, {label(ref)}): {ratio(t1, s1)}"))
    print()

print("Every run:")
print()
print("| run | tunnel | ping ms (loss %) | TCP 1 Mbit/s (retr) | TCP 4 Mbit/s (retr) | UDP 500M loss % (rx Mbit/s) | UDP 1G loss % (rx Mbit/s) | CPU s tcp1/tcp4/udp500/udp1g | peak RSS MiB a/b |")
print("|---|---|---|---|---|---|---|---|---|")
byrun = {}
for r in rows:
    byrun.setdefault((r[0], r[1]), {})[r[2]] = r
for (rep, i), d in sorted(byrun.items(), key=lambda kv: (int(kv[0][0]), order.index(kv[0][1]) if kv[0][1] in order else 99)):
    if "up" in d:
        print(f"| {rep} | {label(i)} | did not come up | | | | | | |"); continue
    g = lambda m, nd: f"{fmt(float(d[m][3]), nd)} ({d[m][6]})" if m in d and d[m][3] != "nan" else ("failed" if m in d else "—")
    cpu = "/".join(d[m][4] if m in d else "—" for m in ("tcp1", "tcp4", "udp500", "udp1g"))
    print(f"| {rep} | {label(i)} | {g('ping', 3)} | {g('tcp1', 0)} | {g('tcp4', 0)} | {g('udp500', 2)} | {g('udp1g', 1)} | {cpu} | {d['rss'][6] if 'rss' in d else '—'} |")
PY
find "$OUT" -name '*.err' -empty -delete
echo
cat "$OUT/report.md"
echo
lab_info "report, runs, iperf3 JSON and ping output in $OUT"
lab_done
