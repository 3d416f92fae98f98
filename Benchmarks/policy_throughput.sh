#!/usr/bin/env bash
# policy_throughput.sh - what a 100-rule access policy costs meshd's throughput (issue 11 item 4:
# at most 5 % loss), measured as mesh mode without a policy against mesh mode with one, on the
# same routed path, in the same run.
#
# A running coordinator cannot go back to "no policy" (a policy once set stays; allow-all is a
# policy too), so the two cases are two mesh-mode pairs side by side, as mesh_throughput.sh
# runs its two pairs, each with its own coordinator on c:
#   - none:   a, b  (coordinator on c:8080, overlay 100.64.0.0/16, mesh0, UDP 41641), no policy;
#   - policy: pa, pb (coordinator on c:8081, overlay 100.65.0.0/16, mesh1, UDP 41642), pb tagged
#     tag:bench, and a policy of 100 rules that all name tag:bench, so all 100 are compiled into
#     pb's filter: 99 that the benchmark's flows do not match (other ports, sources that are
#     hosts outside the mesh, alternately TCP and UDP) and last the one that allows iperf3's
#     port 5201 from every node. A new flow scans all 100 rules; every packet of a flow is
#     judged (header parse, flow-table probe, LRU move) at the receiving pb, and noted by pa's
#     filter as it leaves.
# Both pairs share the namespaces a (10.1.0.10 behind r1) and b (10.2.0.10 behind r2), the
# veths and routers, and the tunnel MTU (1280). The script checks that pb enforces 100 rules
# (its log) and that its filter refuses what the policy does not allow (acl drops counted).
#
# Rounds: first CALIBRATE (1) round(s) before the policy is set, both pairs without a policy
# (the pairs' own difference, which the ratio below also contains); then REPS (3) rounds with
# the policy, each: iperf3 TCP 1 stream, and iperf3 UDP at UDP_RATE offered (1200-byte
# datagrams), a -> b through each pair in turn, the order none/policy alternating per round to
# cancel drift. Per run: Mbit/s received (UDP: and loss), the CPU seconds of the sending and the
# receiving meshd. Prints every run, the medians, and the ratios policy / none; the report
# also goes to Benchmarks/results/.
#
# PERF=1 also samples the two meshd of the pair under test (perf record -F 999) in every run of
# the policy phase, both pairs alike (sampling slows what it samples: measured, sampling only
# the policy runs made them 10-20 % slower), and reports the share of their CPU samples in
# MeshPolicy's functions (PacketFilter, FlowTable, PacketHeaders): the filter's own cost, which
# the noise of the throughput figures cannot hide; the no-policy pair is the control (~0).
# Take the throughput ratios from a run without PERF.
#
#   DURATION=10 REPS=3 CALIBRATE=1 UDP_RATE=300M PERF=0 Benchmarks/policy_throughput.sh   (MESH_BIN: the release build)
# Run under `flock /tmp/lab.lock`, on a quiet machine: both daemons and both iperf3 ends share
# its cores.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
LAB_NAME=policy_throughput
MESHLAB_NAMING=${MESHLAB_NAMING:-literal}
# The no-policy pair's overlay; the policy pair's is 100.65.0.0/16 (routes must not overlap).
MESHLAB_COORD_ARGS="${MESHLAB_COORD_ARGS:-} --ipv4-prefix 100.64.0.0/16"
source "$HERE/../Tests/Integration/lab.sh"; source "$HERE/../Tests/Integration/natlab.sh"
source "$HERE/../Tests/Integration/meshlab.sh"

DURATION=${DURATION:-10}
REPS=${REPS:-3}
CALIBRATE=${CALIBRATE:-1}
UDP_RATE=${UDP_RATE:-300M}
PERF=${PERF:-0}
[[ $PERF == 0 ]] || command -v perf >/dev/null || lab_fail "PERF=1 needs perf (linux-perf)"
CLK=$(getconf CLK_TCK)
RESULTS_DIR=${RESULTS_DIR:-$HERE/results}
STAMP=$(date +%Y%m%d-%H%M%S)
mkdir -p "$RESULTS_DIR"
REPORT=$RESULTS_DIR/policy-throughput-$STAMP.md
TSV=$LAB_DIR/runs.tsv
PCOORD_PORT=8081

meshlab_up none none
meshlab_direct a b "$MESHLAB_B4"
lab_info "no-policy pair a -> b: $(meshlab_peer_field a b "p.get('path')")"

# The policy pair's coordinator and nodes.
pcoord() { "$MESH_BIN/meshcoord" "$@" --state-dir "$LAB_DIR/pcoord"; }
lab_start pcoord c "$MESH_BIN/meshcoord" serve --state-dir "$LAB_DIR/pcoord" --listen "$MESHLAB_COORD:$PCOORD_PORT" \
    --stun-ports 3480,3481 --public-url "http://$MESHLAB_COORD:$PCOORD_PORT" --ipv4-prefix 100.65.0.0/16
lab_wait_until 20 "policy coordinator listening" lab_listening c tcp "$PCOORD_PORT"
lab_wait_until 10 "policy coordinator admin socket answers" lab_q pcoord authkey list
PTOKEN=$(pcoord authkey create --reusable 2>/dev/null)
[[ $PTOKEN == mesh1_* ]] || lab_fail "authkey create gave no token: $PTOKEN"
(umask 077; printf '%s\n' "$PTOKEN" > "$LAB_DIR/pjoin-token")
pnode_start() { # NAME NS
    rm -f "$LAB_DIR/$1.sock"
    mkdir -p "$LAB_DIR/wg-$1"
    lab_start "$1" "$2" "$MESH_BIN/meshd" up --join-file "$LAB_DIR/pjoin-token" --hostname "$1" \
        --state-dir "$LAB_DIR/$1-state" --socket "$LAB_DIR/$1.sock" --port 41642 --interface mesh1 \
        --wireguard-socket-dir "$LAB_DIR/wg-$1"
    lab_wait_until 20 "meshd $1 up in $2" meshlab_status_has "$1" "j.get('control') == 'connected'"
}
pnode_start pa a
pnode_start pb b
lab_wait_until 5 "pa sees pb in its netmap" meshlab_status_has pa "[p for p in j['peers'] if p.get('name') == 'pb']"
PA4=$(meshlab_field pa "j['ipv4']") PB4=$(meshlab_field pb "j['ipv4']")
lab_info "policy pair overlay: pa = $PA4, pb = $PB4"
lab_wait_until 10 "first ping pa -> pb" lab_in a ping -n -c 1 -W 1 "$PB4"
meshlab_wait_path pa pb direct 10
lab_info "policy pair pa -> pb: $(meshlab_peer_field pa pb "p.get('path')")"

lab_iperf_server iperf b
# the policy pair's pb is in the same namespace: the same iperf3 server answers on both overlays

# lab_iperf reads TCP results; UDP wants received rate and loss.
udp_iperf() { # TARGET: sets LAB_MBPS, LAB_LOSS
    local json=$LAB_DIR/udp-$1-$EPOCHSECONDS-$RANDOM.json rc=0
    lab_run --out "$json" lab_in a timeout $((DURATION + 30)) iperf3 -c "$1" -u -b "$UDP_RATE" -l 1200 -t "$DURATION" -J || rc=$?
    local r
    r=$("$LAB_PY" - "$json" <<'EOF'
import json, sys
try:
    j = json.load(open(sys.argv[1]))
    if "error" in j:
        print("nan nan " + j["error"].replace(" ", "_")); sys.exit()
    e = j["end"]
    s = e.get("sum_received") or e["sum"]
    lost = s.get("lost_percent", e["sum"].get("lost_percent", -1))
    print(f'{s["bits_per_second"] / 1e6:.1f} {lost:.2f} ok')
except Exception as ex:
    print(f"nan nan unparsable:{type(ex).__name__}")
EOF
)
    read -r LAB_MBPS LAB_LOSS LAB_IPERF_ERR <<< "$r"
    [[ $rc == 0 && $LAB_IPERF_ERR == ok ]] || { LAB_IPERF_ERR="rc=$rc $LAB_IPERF_ERR"; return 1; }
}

# filter_share PERF_DATA PID: percent of PID's samples in functions of the MeshPolicy module
filter_share() {
    perf report -i "$1" --pid "$2" --no-children --sort sym --stdio 2>/dev/null | "$LAB_PY" -c "
import sys
total = policy = 0.0
for line in sys.stdin:
    f = line.split()
    if len(f) >= 3 and f[0].endswith('%') and f[1] in ('[.]', '[k]'):
        v = float(f[0].rstrip('%')); total += v
        if '10MeshPolicy' in f[2]: policy += v
print(f'{100 * policy / total:.2f}' if total else 'nan')"
}

run_one() { # PHASE REP KIND(tcp|udp) MODE(none|policy)
    local phase=$1 rep=$2 kind=$3 mode=$4 target pa pb
    if [[ $mode == none ]]; then target=$MESHLAB_B4 pa=$(lab_pid a) pb=$(lab_pid b)
    else target=$PB4 pa=$(lab_pid pa) pb=$(lab_pid pb); fi
    local sa0 sb0 sa1 sb1
    local perf_data=$LAB_DIR/perf-$kind-$mode-$rep.data perf_pid=
    if [[ $PERF != 0 && $phase == policy ]]; then
        perf record -q -F 999 -p "$pa,$pb" -o "$perf_data" -- sleep "$DURATION" > "$perf_data.log" 2>&1 &
        perf_pid=$!
    fi
    sa0=$(lab_cpu_ticks "$pa"); sb0=$(lab_cpu_ticks "$pb")
    if [[ $kind == tcp ]]; then
        lab_iperf a "$target" "$DURATION" || lab_fail "$phase $mode tcp run $rep: iperf3 failed ($LAB_IPERF_ERR)"
        LAB_LOSS=$LAB_RETR
    else
        udp_iperf "$target" || lab_fail "$phase $mode udp run $rep: iperf3 failed ($LAB_IPERF_ERR)"
    fi
    sa1=$(lab_cpu_ticks "$pa"); sb1=$(lab_cpu_ticks "$pb")
    if [[ -n $perf_pid ]]; then
        wait "$perf_pid" || lab_fail "perf record failed: $(tail -3 "$perf_data.log")"
        local share_a share_b
        share_a=$(filter_share "$perf_data" "$pa") share_b=$(filter_share "$perf_data" "$pb")
        lab_info "$kind $mode run $rep: MeshPolicy's share of CPU samples: sender $share_a %, receiver $share_b %"
        printf '%s\t%s\t%s\t%s\t%s\n' "$kind" "$mode" "$rep" "$share_a" "$share_b" >> "$LAB_DIR/perf.tsv"
    fi
    local ca cb
    ca=$(awk -v d="$((sa1 - sa0))" -v k="$CLK" 'BEGIN{printf "%.2f", d/k}')
    cb=$(awk -v d="$((sb1 - sb0))" -v k="$CLK" 'BEGIN{printf "%.2f", d/k}')
    lab_pass "$phase $kind $mode run $rep: $LAB_MBPS Mbit/s ($([[ $kind == tcp ]] && echo retransmits || echo loss%) $LAB_LOSS), CPU sender ${ca}s receiver ${cb}s"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$phase" "$rep" "$kind" "$mode" "$LAB_MBPS" "$LAB_LOSS" "$ca" "$cb" >> "$TSV"
}

round() { # PHASE REP: tcp and udp through both pairs, order alternating per round
    local order=(none policy)
    (( $2 % 2 == 0 )) && order=(policy none)
    local kind mode
    for kind in tcp udp; do
        for mode in "${order[@]}"; do run_one "$1" "$2" "$kind" "$mode"; done
    done
    lab_check "no-policy path still direct after round $2" meshlab_path_is a b direct
    lab_check "policy path still direct after round $2" meshlab_path_is pa pb direct
}

lab_info "policy_throughput: CALIBRATE=$CALIBRATE REPS=$REPS DURATION=${DURATION}s UDP_RATE=$UDP_RATE, tunnel MTU 1280"
: > "$TSV"
for rep in $(seq 1 "$CALIBRATE"); do round calibrate "$rep"; done

# The policy: 99 rules pb's traffic does not match, then the one it does.
PB_ID=$(pcoord node list --json | "$LAB_PY" -c "import json,sys; print([n['id'] for n in json.load(sys.stdin) if n['name']=='pb'][0])")
pcoord node tag "$PB_ID" tag:bench >/dev/null
"$LAB_PY" - > "$LAB_DIR/policy.hujson" <<'PY'
print("{")
print("  // 99 rules for tag:bench that the benchmark's flows do not match, then the one they do.")
print('  "tagOwners": {"tag:bench": []},')
print('  "hosts": {')
for i in range(1, 100):
    print(f'    "outside{i}": "10.{200 + i // 50}.{i % 50}.0/24",')
print("  },")
print('  "acls": [')
for i in range(1, 100):
    proto = "tcp" if i % 2 else "udp"
    print(f'    {{"action": "accept", "src": ["outside{i}"], "proto": "{proto}", "dst": ["tag:bench:{6000 + i}"]}},')
print('    {"action": "accept", "src": ["*"], "dst": ["tag:bench:5201"]},')
print("  ],")
print("}")
PY
lab_info "policy: $(pcoord policy set "$LAB_DIR/policy.hujson")"
lab_wait_until 5 "pb enforces the 100 rules" grep -q "packet filter: 100 rules enforced" "$LAB_DIR/pb.log"
lab_pass "pb: $(grep -o 'packet filter: 100 rules enforced[^;]*' "$LAB_DIR/pb.log" | tail -1)"
# The filter does its work: a port the policy does not allow is refused at pb and counted.
lab_check "pb refuses pa's connection to 5202" lab_tcp_closed a "$PB4" 5202
lab_wait_until 3 "pb counts the refusal as acl" meshlab_status_has pb "j['drops'].get('acl', 0) >= 1"

for rep in $(seq 1 "$REPS"); do round policy "$rep"; done
lab_info "drops at pb after the runs: $(meshlab_field pb "j['drops']")"

"$LAB_PY" - "$TSV" "$DURATION" "$REPS" "$CALIBRATE" "$UDP_RATE" "$(uname -r)" "$(nproc)" > "$LAB_DIR/report.md" <<'PY'
import statistics, sys
tsv, dur, reps, cal, rate, kernel, ncpu = sys.argv[1:]
rows = [l.rstrip("\n").split("\t") for l in open(tsv) if l.strip()]
print(f"## Throughput without and with a 100-rule policy: iperf3 a -> b, {dur} s per run, tunnel MTU 1280, same routed path")
print()
print(f"TCP 1 stream; UDP {rate} offered in 1200-byte datagrams. none = pair a/b (no policy), "
      f"policy = pair pa/pb (100 rules at pb, the flow matching the last). {cal} calibration round(s) "
      f"before the policy is set (both pairs without one), then {reps} rounds, order alternating. "
      f"kernel {kernel}, {ncpu} CPUs shared by both daemons and both iperf3 ends.")
print()
print("| phase | round | test | pair | Mbit/s | retransmits / loss % | CPU s sender | CPU s receiver |")
print("|---|---|---|---|---|---|---|---|")
for phase, rep, kind, mode, mbps, loss, ca, cb in rows:
    print(f"| {phase} | {rep} | {kind} | {mode} | {float(mbps):.0f} | {loss} | {ca} | {cb} |")
print()
def med(phase, kind, mode, col):
    v = [float(r[col]) for r in rows if r[0] == phase and r[2] == kind and r[3] == mode]
    return statistics.median(v) if v else float("nan")
for phase, title in (("calibrate", "calibration (neither pair has a policy)"), ("policy", "with the policy at pb")):
    if not any(r[0] == phase for r in rows): continue
    print(f"### {title}")
    print()
    print("| test | median Mbit/s none | median Mbit/s policy | ratio policy/none | receiver CPU s per GB none | policy | ratio |")
    print("|---|---|---|---|---|---|---|")
    for kind in ("tcp", "udp"):
        n, p = med(phase, kind, "none", 4), med(phase, kind, "policy", 4)
        # receiver CPU per gigabyte carried, per run then median
        def cpg(mode):
            v = [float(r[7]) / (float(r[4]) * float(dur) / 8 / 1000) for r in rows
                 if r[0] == phase and r[2] == kind and r[3] == mode and float(r[4]) > 0]
            return statistics.median(v) if v else float("nan")
        cn, cp = cpg("none"), cpg("policy")
        print(f"| {kind} | {n:.0f} | {p:.0f} | **{p / n:.3f}** | {cn:.2f} | {cp:.2f} | {cp / cn:.3f} |")
    print()
PY
if [[ -s $LAB_DIR/perf.tsv ]]; then
    "$LAB_PY" - "$LAB_DIR/perf.tsv" >> "$LAB_DIR/report.md" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
print("### The filter's own share of meshd's CPU (perf record -F 999 on both meshd of the pair, functions of MeshPolicy)")
print()
print("| test | pair | runs | median % of the sender's samples | median % of the receiver's samples |")
print("|---|---|---|---|---|")
for kind in ("tcp", "udp"):
    for mode in ("none", "policy"):
        r = [x for x in rows if x[0] == kind and x[1] == mode]
        if r:
            print(f"| {kind} | {mode} | {len(r)} | {statistics.median(float(x[3]) for x in r):.2f} | {statistics.median(float(x[4]) for x in r):.2f} |")
print()
PY
fi
cp "$LAB_DIR/report.md" "$REPORT"
echo
cat "$REPORT"
echo
lab_done "report written to $REPORT"
