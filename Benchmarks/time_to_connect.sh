#!/usr/bin/env bash
# time_to_connect.sh - eim/eim (two home NATs), REPS times: from both meshd nodes being up
# (registered, netmap received) to the first ping reply across the overlay, and to the direct
# path. Prints every run and the medians. MESH_BIN defaults to the release build.
#   REPS=5 Benchmarks/time_to_connect.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPS=${REPS:-5}
if [[ ${1:-} == --one ]]; then
    LAB_NAME=time_to_connect
    source "$HERE/../Tests/Integration/lab.sh"; source "$HERE/../Tests/Integration/natlab.sh"
    source "$HERE/../Tests/Integration/meshlab.sh"
    meshlab_up eim eim >/dev/null
    T0=$EPOCHREALTIME   # both nodes up and each has the other in its netmap
    until lab_in a ping -n -c 1 -W 1 "$MESHLAB_B4" >/dev/null 2>&1; do :; done
    T1=$EPOCHREALTIME
    until meshlab_path_is a b direct; do :; done
    T2=$EPOCHREALTIME
    echo "RESULT $(awk -v a="$T0" -v b="$T1" -v c="$T2" 'BEGIN{printf "%.3f %.3f", b-a, c-a}')" >&3
    lab_done "measured" >/dev/null
fi
echo "| run | first ping reply (s) | direct path (s) |"
echo "|---|---|---|"
pings=(); directs=()
for i in $(seq 1 "$REPS"); do
    line=$(timeout 90 "$0" --one 3>&1 >/dev/null 2>&1 | grep "^RESULT" || true)
    read -r _ p d <<< "$line"
    [[ -n ${p:-} ]] || { echo "run $i failed" >&2; exit 1; }
    echo "| $i | $p | $d |"
    pings+=("$p"); directs+=("$d")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo
echo "median: first ping reply $(median "${pings[@]}") s (target <= 1 s), direct path $(median "${directs[@]}") s (target <= 3 s)"
