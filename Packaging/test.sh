#!/usr/bin/env bash
# test.sh - everything CI checks: dependencies, release build, unit tests (release mode),
# integration tests (network namespaces; needs root). Prints a summary, exits non-zero on
# any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

steps=() verdicts=() secs=()
failed=0
step() { # NAME command...
    local name=$1; shift
    echo
    echo "===== $name: $*"
    local t0=$EPOCHREALTIME rc=0
    "$@" || rc=$?
    local dt; dt=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.0f", b-a}')
    steps+=("$name"); secs+=("$dt")
    if [[ $rc == 0 ]]; then verdicts+=(PASS); else verdicts+=("FAIL (exit $rc)"); failed=$((failed + 1)); fi
    return "$rc"
}
summary() {
    echo
    echo "===== summary"
    local i
    for i in "${!steps[@]}"; do printf '  %-22s %-14s %5ss\n' "${steps[$i]}" "${verdicts[$i]}" "${secs[$i]}"; done
    if [[ $failed -gt 0 ]]; then echo "test.sh: FAILED ($failed step(s))"; else echo "test.sh: all passed"; fi
}
trap summary EXIT

step install-deps ./Packaging/install-deps.sh || exit 1
# One release build serves the binaries and the unit tests: the tests use only public API, so
# testable imports stay off (swift test --disable-testable-imports) and nothing is compiled twice.
step build swift build -c release --build-tests || exit 1
MESH_BIN=$(swift build -c release --show-bin-path)
export MESH_BIN
step unit-tests swift test -c release --skip-build --disable-testable-imports
# Counts, not timing: fails when a relayed packet costs more than one heap allocation either way.
step relay-allocations "$MESH_BIN/relay-allocations" 100000 1200
# The toolchain miscompile the keys' storage works around: still there, and still avoided.
step toolchain ./Tests/Toolchain/simd_across_await.sh
step fuzz ./Fuzz/run.sh ci
step integration ./Tests/Integration/run.sh
[[ $failed == 0 ]]
