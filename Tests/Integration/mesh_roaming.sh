#!/usr/bin/env bash
# Roaming (issue 4): eim/eim with a direct path and a ping running; a's NAT forgets every
# mapping (conntrack -F, as a NAT reboot would): connectivity must be back within 5 s.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/meshlab.sh"
meshlab_up eim eim
meshlab_direct a b "$MESHLAB_B4"
meshlab_pinger pinger a "$MESHLAB_B4"
lab_wait_until 5 "background ping answered" grep -q "bytes from" "$(lab_logfile pinger)"
FLUSH=$EPOCHREALTIME
natlab_flush_nat r1
natlab_flush_nat r2
lab_info "both NATs flushed their mappings"
lab_wait_until 10 "replies after the flush" bash -c "[[ \$(awk -v t=$FLUSH '/bytes from/ { gsub(/[\\[\\]]/, \"\", \$1); if (\$1 > t + 0.3) n++ } END { print n+0 }' $(lab_logfile pinger)) -gt 3 ]]"
GAP=$(meshlab_max_gap pinger "$FLUSH")
awk -v g="$GAP" 'BEGIN{exit !(g <= 5.0)}' || lab_fail "connectivity took ${GAP}s to come back (limit 5 s)"
lab_info "a's path to b: $(meshlab_peer_field a b "p.get('path')")"
lab_done "NAT mappings flushed: longest gap between replies ${GAP}s (limit 5)"
