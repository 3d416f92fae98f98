#!/usr/bin/env bash
# The README's first command runs to the end: Packaging/demo.sh (without installing packages
# and building, which CI has done). It failed once for weeks unnoticed when the lab's naming
# changed under it; now CI runs it.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
t0=$EPOCHREALTIME
log=$(mktemp /tmp/readme-demo.XXXXXX)
trap 'rm -f "$log"' EXIT
# The demo makes its own namespaces (its own LAB_ID) and removes them, also when interrupted.
SKIP_DEPS=1 SKIP_BUILD=1 LAB_ID= "$REPO/Packaging/demo.sh" > "$log" 2>&1 < /dev/null
rc=$?
dt=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')
if [[ $rc != 0 ]] || ! grep -q "^Demo finished" "$log"; then
    tail -n 80 "$log"
    echo "RESULT readme_demo: FAIL (Packaging/demo.sh exited $rc after ${dt}s)"
    exit 1
fi
grep -E "pong from bob|NAT: " "$log" | sed 's/^ *//'
echo "RESULT readme_demo: PASS (Packaging/demo.sh ran to the end in ${dt}s)"
