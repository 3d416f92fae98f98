#!/usr/bin/env bash
# The NAT matrix again with the coordinator named by an IP literal (http://203.0.113.100:8080).
# The rows themselves (mesh_nat_*.sh) name it coord.lab.test through the lab's DNS server, as
# the field does; each row asserts its verdict (direct or relay), so both namings passing means
# both give the same verdict on every row. Each row runs as its own lab (own namespaces,
# cleaned up by the row's own trap).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"
lab_mesh_bin
export MESH_BIN
failed=0
for row in "$HERE"/mesh_nat_*.sh; do
    name=$(basename "$row" .sh)
    [[ $name == mesh_nat_matrix_literal ]] && continue
    log=$LAB_DIR/$name.log
    # The row gets its own LAB_ID (its own PID) and cleans up on exit; TERM reaches it via timeout.
    if MESHLAB_NAMING=literal LAB_ID= timeout --foreground -k 30 240 bash "$row" > "$log" 2>&1 < /dev/null; then
        lab_pass "$name with an IP literal: $(grep -a '^RESULT ' "$log" | tail -n 1 | sed -E 's/^RESULT [^:]*: //')"
    else
        failed=$((failed + 1))
        echo "----- $name (literal) failed; its log:" >&2
        tail -n 60 "$log" >&2
        lab_warn "$name with an IP literal: FAIL"
    fi
done
[[ $failed == 0 ]] || lab_fail "$failed NAT-matrix row(s) failed with the coordinator named by an IP literal"
lab_done "every NAT-matrix row gives its verdict with an IP literal too"
