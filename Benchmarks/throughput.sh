#!/usr/bin/env bash
# throughput.sh - iperf3 TCP through meshd<->meshd and wireguard-go<->wireguard-go, same run.
#
#   ns a: veth 10.77.0.1/24, overlay 10.100.0.1/24      ns b: veth 10.77.0.2/24, overlay 10.100.0.2/24
#
# For each of REPS (3) repetitions, interleaved: bring up a fresh pair of each implementation
# (tunnel MTU MTU, 1420, for both), wait for the handshake, iperf3 -c 10.100.0.2 -t DURATION
# (10) from a to b, record Mbit/s, retransmits and the CPU seconds (utime+stime from
# /proc/PID/stat) both daemons burnt during the transfer, then stop the pair.
# Prints a markdown table of every run, the medians and the ratio meshd / wireguard-go; the
# same report (and the raw iperf3 JSON) goes to Benchmarks/results/.
#
#   DURATION=10 REPS=3 MTU=1420 IMPLS="meshd wireguard-go" Benchmarks/throughput.sh
#   MESH_BIN defaults to the repo's release build.
# Note: both daemons and both iperf3 ends share this machine's cores; the figures are
# "both peers on one box" numbers (see shared/lab/BASELINE.md).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
LAB_NAME=throughput
source "$HERE/../Tests/Integration/lab.sh"

DURATION=${DURATION:-10}
REPS=${REPS:-3}
MTU=${MTU:-1420}
IMPLS=${IMPLS:-meshd wireguard-go}
LAB_WG_LOG_LEVEL=error
LAB_MESHD_ARGS=""          # no --verbose
CLK=$(getconf CLK_TCK)
RESULTS_DIR=${RESULTS_DIR:-$HERE/results}
STAMP=$(date +%Y%m%d-%H%M%S)
mkdir -p "$RESULTS_DIR"
REPORT=$RESULTS_DIR/throughput-$STAMP.md
TSV=$LAB_DIR/runs.tsv

[[ " $IMPLS " == *" meshd "* ]] && lab_mesh_bin

lab_ns_add a b
lab_veth a veth0 10.77.0.1/24 b veth0 10.77.0.2/24
lab_iperf_server iperf b

run_one() { # REP IMPL
    local rep=$1 impl=$2
    local na=a-$impl-$rep nb=b-$impl-$rep
    lab_node_genkey "$impl" "$LAB_DIR/$na"
    lab_node_genkey "$impl" "$LAB_DIR/$nb"
    lab_node_up "$impl" "$nb" b 10.100.0.2/24 51820 "$MTU" "$LAB_DIR/$nb" "$LAB_DIR/$na.pub" 10.100.0.1/32
    lab_node_up "$impl" "$na" a 10.100.0.1/24 51820 "$MTU" "$LAB_DIR/$na" "$LAB_DIR/$nb.pub" 10.100.0.2/32 10.77.0.2:51820
    lab_wait_until 15 "$impl run $rep: tunnel answers" lab_in a ping -n -c 1 -W 1 10.100.0.2
    local pa pb c0 c1 t0 t1
    pa=$(lab_pid "$na"); pb=$(lab_pid "$nb")
    c0=$(lab_cpu_ticks "$pa" "$pb"); t0=$EPOCHREALTIME
    if ! lab_iperf a 10.100.0.2 "$DURATION"; then
        tail -n 5 "$LAB_IPERF_JSON" "$LAB_IPERF_JSON.err" >&2
        lab_fail "$impl run $rep: iperf3 failed ($LAB_IPERF_ERR)"
    fi
    c1=$(lab_cpu_ticks "$pa" "$pb"); t1=$EPOCHREALTIME
    cp "$LAB_IPERF_JSON" "$RESULTS_DIR/throughput-$STAMP-$impl-$rep.json"
    local cpu wall
    cpu=$(awk -v d="$((c1 - c0))" -v k="$CLK" 'BEGIN{printf "%.2f", d/k}')
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
    lab_check "$impl run $rep: daemons still running" lab_alive "$na"
    lab_check "$impl run $rep: daemons still running" lab_alive "$nb"
    lab_pass "$impl run $rep: $LAB_MBPS Mbit/s, retransmits $LAB_RETR, daemons CPU ${cpu}s in ${wall}s"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$impl" "$LAB_MBPS" "$LAB_RETR" "$cpu" "$wall" >> "$TSV"
    lab_node_down "$na"
    lab_node_down "$nb"
}

lab_info "throughput: IMPLS='$IMPLS' REPS=$REPS DURATION=${DURATION}s MTU=$MTU"
: > "$TSV"
for rep in $(seq 1 "$REPS"); do
    for impl in $IMPLS; do run_one "$rep" "$impl"; done
done

"$LAB_PY" - "$TSV" "$DURATION" "$MTU" "$REPS" "$(uname -r)" "$(nproc)" "$IMPLS" > "$LAB_DIR/report.md" <<'EOF'
import statistics, sys
tsv, dur, mtu, reps, kernel, ncpu, impls = sys.argv[1:]
rows = [l.rstrip("\n").split("\t") for l in open(tsv) if l.strip()]
print(f"## Throughput: iperf3 TCP, 1 stream, {dur} s per run, tunnel MTU {mtu}, {reps} runs each (interleaved)")
print()
print(f"kernel {kernel}, {ncpu} CPUs; both daemons and both iperf3 ends share them.")
print()
print("| run | implementation | Mbit/s | retransmits | daemons CPU s (a+b) | daemons CPU % of one core |")
print("|---|---|---|---|---|---|")
for rep, impl, mbps, retr, cpu, wall in rows:
    pct = 100 * float(cpu) / float(wall)
    print(f"| {rep} | {impl} | {float(mbps):.0f} | {retr} | {float(cpu):.2f} | {pct:.0f} |")
print()
print("| implementation | median Mbit/s | min-max | median daemons CPU s | median Mbit/s per core used by the daemons |")
print("|---|---|---|---|---|")
med = {}
for impl in impls.split():
    r = [x for x in rows if x[1] == impl]
    if not r:
        continue
    m = [float(x[2]) for x in r]
    c = [float(x[4]) for x in r]
    w = [float(x[5]) for x in r]
    med[impl] = statistics.median(m)
    eff = statistics.median([mm / (cc / ww) if cc > 0 else float("nan") for mm, cc, ww in zip(m, c, w)])
    print(f"| {impl} | **{med[impl]:.0f}** | {min(m):.0f}-{max(m):.0f} | {statistics.median(c):.2f} | {eff:.0f} |")
print()
if "meshd" in med and "wireguard-go" in med and med["wireguard-go"] > 0:
    print(f"**ratio meshd / wireguard-go (medians): {med['meshd'] / med['wireguard-go']:.2f}**")
EOF
cp "$LAB_DIR/report.md" "$REPORT"
echo
cat "$REPORT"
echo
lab_info "report written to $REPORT"
lab_done
