#!/usr/bin/env bash
# mesh_throughput.sh - meshd in mesh mode against meshd standalone, on the same routed path, in
# the same run.
#
# The NAT lab with both sides routed (no NAT): a (10.1.0.10) behind r1, b (10.2.0.10) behind r2,
# the coordinator on c named coord.lab.test by the lab's DNS server. On a and b run, side by side:
#   - a mesh-mode pair (meshd up; interface mesh0, UDP 41641), direct path found by disco;
#   - a standalone pair (meshd --config; interface sa0, UDP 51820, overlay 10.100.0.0/24),
#     with the same tunnel MTU as mesh mode (MTU, default 1280).
# Both carry the same packets over the same veths and routers. For each of REPS (3) rounds,
# iperf3 -t DURATION (10) from a to b through each pair in turn (interleaved), recording Mbit/s
# and the CPU the two daemons of that pair burnt. Prints every run, the medians and the ratio
# mesh / standalone; the report also goes to Benchmarks/results/.
#
#   DURATION=10 REPS=3 MTU=1280 Benchmarks/mesh_throughput.sh      (MESH_BIN: the release build)
# Note: both daemons and both iperf3 ends share this machine's cores.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
LAB_NAME=mesh_throughput
source "$HERE/../Tests/Integration/lab.sh"; source "$HERE/../Tests/Integration/natlab.sh"
source "$HERE/../Tests/Integration/meshlab.sh"

DURATION=${DURATION:-10}
REPS=${REPS:-3}
MTU=${MTU:-1280}
LAB_MESHD_ARGS=""
CLK=$(getconf CLK_TCK)
RESULTS_DIR=${RESULTS_DIR:-$HERE/results}
STAMP=$(date +%Y%m%d-%H%M%S)
mkdir -p "$RESULTS_DIR"
REPORT=$RESULTS_DIR/mesh-throughput-$STAMP.md
TSV=$LAB_DIR/runs.tsv

meshlab_up none none
meshlab_direct a b "$MESHLAB_B4"
lab_info "mesh path a -> b: $(meshlab_peer_field a b "p.get('path')")"

lab_genkey meshd "$LAB_DIR/sa-a"
lab_genkey meshd "$LAB_DIR/sa-b"
lab_meshd_conf "$LAB_DIR/sa-b.conf" "$LAB_DIR/sa-b.key" 10.100.0.2/24 51820 "$MTU" "$LAB_DIR/sa-a.pub" 10.100.0.1/32
lab_meshd_conf "$LAB_DIR/sa-a.conf" "$LAB_DIR/sa-a.key" 10.100.0.1/24 51820 "$MTU" "$LAB_DIR/sa-b.pub" 10.100.0.2/32 \
    "$NATLAB_B_IP:51820"
lab_meshd_start sa-b b "$LAB_DIR/sa-b.conf" sa0
lab_meshd_start sa-a a "$LAB_DIR/sa-a.conf" sa0
lab_wait_until 15 "standalone tunnel answers" lab_in a ping -n -c 1 -W 1 10.100.0.2
lab_iperf_server iperf b

run_one() { # REP MODE TARGET PID_A PID_B
    local rep=$1 mode=$2 target=$3 c0 c1 t0 t1
    c0=$(lab_cpu_ticks "$4" "$5"); t0=$EPOCHREALTIME
    lab_iperf a "$target" "$DURATION" || lab_fail "$mode run $rep: iperf3 failed ($LAB_IPERF_ERR)"
    c1=$(lab_cpu_ticks "$4" "$5"); t1=$EPOCHREALTIME
    local cpu wall
    cpu=$(awk -v d="$((c1 - c0))" -v k="$CLK" 'BEGIN{printf "%.2f", d/k}')
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
    lab_pass "$mode run $rep: $LAB_MBPS Mbit/s, retransmits $LAB_RETR, daemons CPU ${cpu}s in ${wall}s"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$mode" "$LAB_MBPS" "$LAB_RETR" "$cpu" "$wall" >> "$TSV"
}

lab_info "mesh_throughput: REPS=$REPS DURATION=${DURATION}s MTU=$MTU (mesh mode's is 1280)"
: > "$TSV"
for rep in $(seq 1 "$REPS"); do
    run_one "$rep" standalone 10.100.0.2 "$(lab_pid sa-a)" "$(lab_pid sa-b)"
    run_one "$rep" mesh "$MESHLAB_B4" "$(lab_pid a)" "$(lab_pid b)"
    lab_check "mesh path still direct after run $rep" meshlab_path_is a b direct
done

"$LAB_PY" - "$TSV" "$DURATION" "$MTU" "$REPS" "$(uname -r)" "$(nproc)" > "$LAB_DIR/report.md" <<'PY'
import statistics, sys
tsv, dur, mtu, reps, kernel, ncpu = sys.argv[1:]
rows = [l.rstrip("\n").split("\t") for l in open(tsv) if l.strip()]
print(f"## Mesh mode vs standalone: iperf3 TCP a -> b, 1 stream, {dur} s per run, {reps} runs each (interleaved), same routed path, tunnel MTU {mtu} (standalone) / 1280 (mesh)")
print()
print(f"kernel {kernel}, {ncpu} CPUs; the daemons and both iperf3 ends share them.")
print()
print("| run | mode | Mbit/s | retransmits | daemons CPU s (a+b) |")
print("|---|---|---|---|---|")
for rep, mode, mbps, retr, cpu, wall in rows:
    print(f"| {rep} | {mode} | {float(mbps):.0f} | {retr} | {float(cpu):.2f} |")
print()
med = {}
print("| mode | median Mbit/s | min-max | median daemons CPU s |")
print("|---|---|---|---|")
for mode in ("standalone", "mesh"):
    r = [x for x in rows if x[1] == mode]
    m = [float(x[2]) for x in r]
    med[mode] = statistics.median(m)
    print(f"| {mode} | **{med[mode]:.0f}** | {min(m):.0f}-{max(m):.0f} | {statistics.median([float(x[4]) for x in r]):.2f} |")
print()
print(f"**ratio mesh / standalone (medians): {med['mesh'] / med['standalone']:.2f}**")
PY
cp "$LAB_DIR/report.md" "$REPORT"
echo
cat "$REPORT"
echo
lab_done "report written to $REPORT"
