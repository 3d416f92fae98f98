#!/usr/bin/env bash
# run.sh - run every integration test (Tests/Integration/*.sh except the libraries lab.sh, natlab.sh, lab_delay.sh, meshlab.sh and run.sh)
# one after another, print a verdict table, exit non-zero if any failed.
#
#   MESH_BIN=/path/to/bin Tests/Integration/run.sh [NAME...]     (names without .sh: a subset)
#   TEST_TIMEOUT=600 (seconds per test; the test is sent TERM, and cleans up, when it expires)
#   Logs of each test: $INTEGRATION_LOG_DIR (default: a temp dir, printed at the end)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TIMEOUT=${TEST_TIMEOUT:-600}

if [[ -z ${MESH_BIN:-} ]]; then
    MESH_BIN=$(cd "$REPO" && swift build -c release --show-bin-path) || { echo "cannot find MESH_BIN" >&2; exit 2; }
fi
export MESH_BIN
echo "integration tests: MESH_BIN=$MESH_BIN"

LOGDIR=${INTEGRATION_LOG_DIR:-$(mktemp -d /tmp/mesh-integration.XXXXXX)}
mkdir -p "$LOGDIR"

tests=()
if [[ $# -gt 0 ]]; then
    for n in "$@"; do tests+=("$HERE/${n%.sh}.sh"); done
else
    for f in "$HERE"/*.sh; do
        case $(basename "$f") in lab.sh|natlab.sh|meshlab.sh|lab_delay.sh|run.sh) continue ;; esac  # libraries, and this runner
        tests+=("$f")
    done
fi

CHILD=
# on INT/TERM: TERM the running test (via timeout, which forwards it), let it clean up
trap '[[ -n $CHILD ]] && kill -TERM "$CHILD" 2>/dev/null; wait; exit 130' INT TERM

names=() verdicts=() secs=() details=()
failed=0
for t in "${tests[@]}"; do
    name=$(basename "$t" .sh)
    log=$LOGDIR/$name.log
    echo
    echo "===== $name"
    t0=$EPOCHREALTIME
    # timeout sends TERM to the test only (its trap kills what it started and deletes its
    # namespaces), and KILL 60 s later if it is still there
    : > "$log"   # before tail opens it: the background job creates it only once it runs
    timeout --foreground -k 60 "$TIMEOUT" bash "$t" > "$log" 2>&1 < /dev/null &
    CHILD=$!
    tail -s 0.2 -n +1 -f --pid="$CHILD" "$log" &      # live output; ends when the test does
    TAILPID=$!
    wait "$CHILD"; rc=$?
    wait "$TAILPID"
    CHILD=
    dt=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')
    detail=$(grep -a '^RESULT ' "$log" | tail -n 1 | sed -E 's/^RESULT [^:]*: (PASS|FAIL) ?//')
    if [[ $rc == 0 ]]; then v=PASS; else
        v=FAIL; failed=$((failed + 1))
        [[ $rc == 124 ]] && detail="timed out after ${TIMEOUT}s; $detail"
        [[ -z $detail ]] && detail="exit code $rc"
    fi
    names+=("$name"); verdicts+=("$v"); secs+=("$dt"); details+=("$detail")
done

echo
echo "| test | verdict | seconds | detail |"
echo "|---|---|---|---|"
for i in "${!names[@]}"; do
    printf '| %s | %s | %s | %s |\n' "${names[$i]}" "${verdicts[$i]}" "${secs[$i]}" "${details[$i]}"
done
echo
echo "logs: $LOGDIR"
if [[ $failed -gt 0 ]]; then
    echo "integration: $failed of ${#names[@]} FAILED"
    exit 1
fi
echo "integration: all ${#names[@]} passed"
